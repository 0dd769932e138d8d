//! The current state of users, groups, flows, applications and sources, read once so planning is a pure comparison.

use gatehouse_core::{Application, Group, ListQuery, Source, Store, StoreError, User};
use std::collections::BTreeMap;

/// Users and groups by natural key, with group names resolved.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Groups by name, with their parent's name.
    pub groups: BTreeMap<String, (Group, Option<String>)>,
    /// Users by username, with their direct group names (sorted).
    pub users: BTreeMap<String, (User, Vec<String>)>,
    /// Stored flow definitions by slug.
    pub flows: BTreeMap<String, serde_json::Value>,
    /// Applications by slug, with their providers.
    pub applications: BTreeMap<String, Application>,
    /// Upstream login sources by slug.
    pub sources: BTreeMap<String, Source>,
}

impl Snapshot {
    /// Reads every user and group, a page at a time.
    pub async fn read(store: &dyn Store) -> Result<Self, StoreError> {
        let mut groups = Vec::new();
        let mut query = ListQuery::all();
        loop {
            let page = store.list_groups(&query).await?;
            let got = page.items.len() as u64;
            groups.extend(page.items);
            if got < query.clamped_limit() {
                break;
            }
            query.offset += got;
        }
        let names: BTreeMap<_, _> = groups.iter().map(|g| (g.id, g.name.clone())).collect();
        let groups = groups
            .into_iter()
            .map(|g| {
                let parent = g.parent_id.and_then(|p| names.get(&p).cloned());
                (g.name.clone(), (g, parent))
            })
            .collect();

        let mut users = BTreeMap::new();
        let mut query = ListQuery::all();
        loop {
            let page = store.list_users(&query).await?;
            let got = page.items.len() as u64;
            for user in page.items {
                let mut direct: Vec<String> = store
                    .direct_groups(user.id)
                    .await?
                    .into_iter()
                    .map(|g| g.name)
                    .collect();
                direct.sort();
                users.insert(user.username.clone(), (user, direct));
            }
            if got < query.clamped_limit() {
                break;
            }
            query.offset += got;
        }
        let flows = store
            .flow_definitions()
            .await?
            .into_iter()
            .map(|flow| (flow.slug, flow.definition))
            .collect();
        let applications = store
            .list_applications()
            .await?
            .into_iter()
            .map(|app| (app.slug.clone(), app))
            .collect();
        let sources = store
            .list_sources()
            .await?
            .into_iter()
            .map(|source| (source.slug().to_owned(), source))
            .collect();
        Ok(Self {
            groups,
            users,
            flows,
            applications,
            sources,
        })
    }
}
