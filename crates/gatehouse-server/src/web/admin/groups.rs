//! Admin pages for groups: the tree (each group under its parent; a search shows a flat
//! list with each group's path), the creation form, and a group's page (rename, move,
//! administrative roles and other attributes, members, deletion). Every change goes through
//! [`crate::admin::groups`], which lets only superusers grant roles.

use super::users::Done;
use super::{
    AdminUi, Confirm, FieldErrors, FormData, ListParams, PAGE_SIZE, Pager, Section, see_other,
};
use crate::admin::{AdminError, groups as service, page_in_memory};
use askama::Template;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use gatehouse_core::admin_role::{ROLES_ATTRIBUTE, roles_of};
use gatehouse_core::{
    AdminArea, AdminRole, Group, GroupId, GroupPatch, ListQuery, NewGroup, Page, UserId,
};
use serde_json::{Map, Value};
use std::collections::HashMap;

const LIST: &str = "/if/admin/groups/";

/// Groups read for the tree at most: beyond this the page asks for a search instead.
const TREE_LIMIT: u64 = 20_000;

/// One row of the groups list: indented by depth in the tree.
struct GroupRow {
    id: String,
    name: String,
    depth: usize,
    /// Its ancestors' names, root first.
    path: String,
    superuser: bool,
}

#[derive(Template)]
#[template(path = "admin/groups.html")]
struct ListPage {
    shell: super::Shell,
    pager: Pager,
    rows: Vec<GroupRow>,
    tree: bool,
    can_write: bool,
}

/// Every group, read through the service a page at a time.
async fn all_groups(ui: &AdminUi) -> Result<Vec<Group>, AdminError> {
    let mut all = Vec::new();
    let mut query = ListQuery::all();
    loop {
        let page = service::list(&ui.services, &ui.caller, &query).await?;
        let fetched = page.items.len() as u64;
        all.extend(page.items);
        query.offset += fetched;
        if fetched == 0 || query.offset >= page.total || query.offset >= TREE_LIMIT {
            return Ok(all);
        }
    }
}

/// The groups in tree order (each parent followed by its children, siblings by name) with
/// their depths. Groups whose parent is missing, or that sit in a loop, start at the root.
fn tree_order(groups: Vec<Group>) -> Vec<(Group, usize)> {
    let ids: std::collections::HashSet<GroupId> = groups.iter().map(|g| g.id).collect();
    let mut children: HashMap<Option<GroupId>, Vec<Group>> = HashMap::new();
    for group in groups {
        let parent = group.parent_id.filter(|p| ids.contains(p));
        children.entry(parent).or_default().push(group);
    }
    for list in children.values_mut() {
        list.sort_by(|a, b| a.name.cmp(&b.name));
    }
    let mut ordered = Vec::with_capacity(ids.len());
    let mut stack: Vec<(Group, usize)> = children
        .remove(&None)
        .unwrap_or_default()
        .into_iter()
        .rev()
        .map(|g| (g, 0))
        .collect();
    while let Some((group, depth)) = stack.pop() {
        if let Some(kids) = children.remove(&Some(group.id)) {
            stack.extend(kids.into_iter().rev().map(|g| (g, depth + 1)));
        }
        ordered.push((group, depth));
    }
    // Whatever is left sits in a parent loop: show it flat rather than lose it.
    let mut rest: Vec<Group> = children.into_values().flatten().collect();
    rest.sort_by(|a, b| a.name.cmp(&b.name));
    ordered.extend(rest.into_iter().map(|g| (g, 0)));
    ordered
}

/// The names of `group`'s ancestors, root first, joined with " › ".
fn path_of(group: &Group, by_id: &HashMap<GroupId, &Group>) -> String {
    let mut names = Vec::new();
    let mut cursor = group.parent_id;
    while let Some(id) = cursor {
        let Some(parent) = by_id.get(&id) else { break };
        if names.len() > 64 || names.contains(&parent.name) {
            break;
        }
        names.push(parent.name.clone());
        cursor = parent.parent_id;
    }
    names.reverse();
    names.join(" › ")
}

/// `GET /if/admin/groups/`: the group tree, or with `search` the matching groups.
pub(crate) async fn list(ui: AdminUi, Query(params): Query<ListParams>) -> Response {
    let query = params.query("name");
    let groups = match all_groups(&ui).await {
        Ok(groups) => groups,
        Err(error) => return ui.error(error),
    };
    let by_id: HashMap<GroupId, &Group> = groups.iter().map(|g| (g.id, g)).collect();
    let tree = query.search.is_none() && !query.descending;
    let rows: Vec<GroupRow> = if tree {
        tree_order(groups.clone())
            .into_iter()
            .map(|(g, depth)| row(&g, depth, &by_id))
            .collect()
    } else {
        groups.iter().map(|g| row(g, 0, &by_id)).collect()
    };
    // Search and paging as every in-memory list does (the search covers the path too).
    let page: Page<GroupRow> = page_in_memory(rows, &query, |r| format!("{} {}", r.name, r.path));
    let pager = Pager::of(LIST, "name", &query, &page);
    let page = ListPage {
        shell: ui.shell(Section::Groups),
        pager,
        rows: page.items,
        tree,
        can_write: ui.can_write(AdminArea::Groups),
    };
    ui.render(StatusCode::OK, &page)
}

fn row(group: &Group, depth: usize, by_id: &HashMap<GroupId, &Group>) -> GroupRow {
    GroupRow {
        id: group.id.to_string(),
        name: group.name.clone(),
        depth,
        path: path_of(group, by_id),
        superuser: group.is_superuser,
    }
}

/// The values of the creation and edit forms.
#[derive(Default)]
struct GroupValues {
    name: String,
    parent: String,
}

#[derive(Template)]
#[template(path = "admin/group_new.html")]
struct NewPage {
    shell: super::Shell,
    values: GroupValues,
    errors: FieldErrors,
}

/// `GET /if/admin/groups/new/`: the creation form.
pub(crate) async fn new_form(ui: AdminUi) -> Response {
    if let Err(error) = ui.caller.require_write(AdminArea::Groups) {
        return ui.error(error);
    }
    let page = NewPage {
        shell: ui.shell(Section::Groups),
        values: GroupValues::default(),
        errors: FieldErrors::default(),
    };
    ui.render(StatusCode::OK, &page)
}

/// `POST /if/admin/groups/`: creates a group, then shows its page.
pub(crate) async fn create(ui: AdminUi, form: FormData) -> Response {
    if let Err(page) = ui.check_csrf(&form) {
        return *page;
    }
    let values = GroupValues {
        name: form.get("name").trim().to_owned(),
        parent: form.get("parent").trim().to_owned(),
    };
    let new = NewGroup {
        name: values.name.clone(),
        parent: form.optional("parent"),
        ..NewGroup::default()
    };
    match service::create(&ui.services, &ui.caller, new).await {
        Ok(group) => see_other(&format!("{LIST}{}/?done=created", group.id)),
        Err(error) => match FieldErrors::from_error(error) {
            Ok(errors) => {
                let page = NewPage {
                    shell: ui.shell(Section::Groups),
                    values,
                    errors,
                };
                ui.render(StatusCode::BAD_REQUEST, &page)
            }
            Err(other) => ui.error(other),
        },
    }
}

/// The link to a group's parent.
struct ParentLink {
    id: String,
    name: String,
}

/// A member line on a group's page.
struct MemberLine {
    id: String,
    username: String,
    name: String,
}

#[derive(Template)]
#[template(path = "admin/group.html")]
struct DetailPage {
    shell: super::Shell,
    group: Group,
    id: String,
    parent: Option<ParentLink>,
    edit: GroupValues,
    edit_errors: FieldErrors,
    member_errors: FieldErrors,
    notice: Option<&'static str>,
    members: Vec<MemberLine>,
    pager: Pager,
    can_write: bool,
    /// The role checkboxes.
    roles: Vec<RoleBox>,
    /// The other attributes as JSON, as stored or as typed.
    attributes: String,
    attribute_errors: FieldErrors,
    /// The caller may grant roles (superusers only).
    can_grant: bool,
}

/// One administrative role's checkbox on a group's page.
struct RoleBox {
    name: &'static str,
    description: &'static str,
    checked: bool,
}

/// The attributes form as submitted (kept when it comes back with errors).
struct AttributeValues {
    roles: Vec<String>,
    json: String,
}

fn role_boxes(checked: &[String]) -> Vec<RoleBox> {
    AdminRole::ALL
        .into_iter()
        .map(|role| RoleBox {
            name: role.as_str(),
            description: match role {
                AdminRole::Auditor => "reads every section, changes nothing",
                AdminRole::UserManager => {
                    "manages users, groups, invitations and tokens of unprivileged users"
                }
            },
            checked: checked.iter().any(|c| c == role.as_str()),
        })
        .collect()
}

/// The attributes other than the roles, as indented JSON.
fn other_attributes(group: &Group) -> String {
    let mut others = group.attributes.clone();
    others.remove(ROLES_ATTRIBUTE);
    serde_json::to_string_pretty(&Value::Object(others)).unwrap_or_else(|_| "{}".into())
}

/// Longest attributes document the form accepts.
const MAX_ATTRIBUTES_LEN: usize = 64 * 1024;

/// The group's new attributes from the form: the JSON object typed for the others, plus
/// the checked roles (the attribute is left out when none is checked).
fn attributes_from(values: &AttributeValues) -> Result<Map<String, Value>, AdminError> {
    let text = values.json.trim();
    if text.len() > MAX_ATTRIBUTES_LEN {
        return Err(AdminError::field("attributes", "must be at most 64 KiB"));
    }
    let mut attributes = if text.is_empty() {
        Map::new()
    } else {
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => map,
            Ok(_) => {
                return Err(AdminError::field(
                    "attributes",
                    "must be a JSON object ({\"name\": value, ...})",
                ));
            }
            Err(error) => {
                return Err(AdminError::field(
                    "attributes",
                    format!("not valid JSON: {error}"),
                ));
            }
        }
    };
    if attributes.contains_key(ROLES_ATTRIBUTE) {
        return Err(AdminError::field(
            "attributes",
            format!("set {ROLES_ATTRIBUTE} with the role checkboxes, not here"),
        ));
    }
    let mut roles = Vec::new();
    for name in &values.roles {
        let role = AdminRole::parse(name)
            .ok_or_else(|| AdminError::field("roles", format!("no role named {name:?}")))?;
        if !roles.contains(&role) {
            roles.push(role);
        }
    }
    roles.sort();
    if !roles.is_empty() {
        attributes.insert(
            ROLES_ATTRIBUTE.to_owned(),
            Value::Array(roles.iter().map(|r| Value::from(r.as_str())).collect()),
        );
    }
    Ok(attributes)
}

fn notice(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "created" => "Group created.",
        "saved" => "Changes saved.",
        "added" => "Member added.",
        "removed" => "Member removed.",
        "attributes" => "Roles and attributes saved.",
        _ => return None,
    })
}

/// `GET /if/admin/groups/{id}/`: a group, its parent and its direct members (paged).
pub(crate) async fn show(
    ui: AdminUi,
    Path(id): Path<String>,
    Query(params): Query<ListParams>,
    Query(done): Query<Done>,
) -> Response {
    let Ok(id) = id.parse::<GroupId>() else {
        return ui.error(AdminError::not_found("group"));
    };
    let view = DetailView {
        members: params.query("username"),
        edit: None,
        edit_errors: FieldErrors::default(),
        member_errors: FieldErrors::default(),
        notice: notice(done.done.as_deref()),
        attributes: None,
    };
    detail(&ui, id, view).await
}

/// What a group's page shows besides the group itself.
struct DetailView {
    members: ListQuery,
    edit: Option<GroupValues>,
    edit_errors: FieldErrors,
    member_errors: FieldErrors,
    notice: Option<&'static str>,
    /// The attributes form as typed, with its errors (after a refused change).
    attributes: Option<(AttributeValues, FieldErrors)>,
}

async fn detail(ui: &AdminUi, id: GroupId, view: DetailView) -> Response {
    let loaded = async {
        let group = service::get(&ui.services, &ui.caller, id).await?;
        let members = service::members(&ui.services, &ui.caller, id, &view.members).await?;
        let parent = match group.parent_id {
            Some(parent) => Some(service::get(&ui.services, &ui.caller, parent).await?),
            None => None,
        };
        Ok::<_, AdminError>((group, members, parent))
    }
    .await;
    let (group, members, parent) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => return ui.error(error),
    };
    let (attribute_values, attribute_errors) = view.attributes.unwrap_or_else(|| {
        let values = AttributeValues {
            roles: roles_of(&group)
                .into_iter()
                .map(|r| r.as_str().to_owned())
                .collect(),
            json: other_attributes(&group),
        };
        (values, FieldErrors::default())
    });
    let status = if view.edit_errors.is_empty()
        && view.member_errors.is_empty()
        && attribute_errors.is_empty()
    {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let pager = Pager::of(&format!("{LIST}{id}/"), "username", &view.members, &members);
    let page = DetailPage {
        shell: ui.shell(Section::Groups),
        id: group.id.to_string(),
        edit: view.edit.unwrap_or_else(|| GroupValues {
            name: group.name.clone(),
            parent: parent.as_ref().map(|p| p.name.clone()).unwrap_or_default(),
        }),
        parent: parent.map(|p| ParentLink {
            id: p.id.to_string(),
            name: p.name,
        }),
        group,
        edit_errors: view.edit_errors,
        member_errors: view.member_errors,
        notice: view.notice,
        members: members
            .items
            .into_iter()
            .map(|u| MemberLine {
                id: u.id.to_string(),
                username: u.username,
                name: u.name,
            })
            .collect(),
        pager,
        can_write: ui.can_write(AdminArea::Groups),
        roles: role_boxes(&attribute_values.roles),
        attributes: attribute_values.json,
        attribute_errors,
        can_grant: ui.caller.rights.can_manage_privileged(),
    };
    ui.render(status, &page)
}

fn group_id(ui: &AdminUi, id: &str, form: &FormData) -> Result<GroupId, Box<Response>> {
    let id = id
        .parse()
        .map_err(|_| Box::new(ui.error(AdminError::not_found("group"))))?;
    ui.check_csrf(form)?;
    Ok(id)
}

fn first_members_page() -> ListQuery {
    ListQuery {
        limit: PAGE_SIZE,
        ..ListQuery::default()
    }
}

/// `POST /if/admin/groups/{id}/`: renames the group or moves it under another parent.
pub(crate) async fn update(ui: AdminUi, Path(id): Path<String>, form: FormData) -> Response {
    let id = match group_id(&ui, &id, &form) {
        Ok(id) => id,
        Err(page) => return *page,
    };
    let edit = GroupValues {
        name: form.get("name").trim().to_owned(),
        parent: form.get("parent").trim().to_owned(),
    };
    let outcome = async {
        let current = service::get(&ui.services, &ui.caller, id).await?;
        let current_parent = match current.parent_id {
            Some(parent) => Some(service::get(&ui.services, &ui.caller, parent).await?.name),
            None => None,
        };
        let parent = form.optional("parent");
        let patch = GroupPatch {
            name: (edit.name != current.name).then(|| edit.name.clone()),
            parent: (parent != current_parent).then_some(parent),
            ..GroupPatch::default()
        };
        service::update(&ui.services, &ui.caller, id, patch).await
    }
    .await;
    match outcome {
        Ok(_) => see_other(&format!("{LIST}{id}/?done=saved")),
        Err(error) => match FieldErrors::from_error(error) {
            Ok(edit_errors) => {
                let view = DetailView {
                    members: first_members_page(),
                    edit: Some(edit),
                    edit_errors,
                    member_errors: FieldErrors::default(),
                    notice: None,
                    attributes: None,
                };
                detail(&ui, id, view).await
            }
            Err(other) => ui.error(other),
        },
    }
}

/// `POST /if/admin/groups/{id}/attributes/`: sets the group's administrative roles (the
/// `role` checkboxes) and its other attributes (a JSON object). The service refuses role
/// changes to anyone but a superuser, and any change to a privileged group likewise.
pub(crate) async fn set_attributes(
    ui: AdminUi,
    Path(id): Path<String>,
    form: FormData,
) -> Response {
    let id = match group_id(&ui, &id, &form) {
        Ok(id) => id,
        Err(page) => return *page,
    };
    let values = AttributeValues {
        roles: form
            .0
            .iter()
            .filter(|(name, _)| name == "role")
            .map(|(_, value)| value.clone())
            .collect(),
        json: form.get("attributes").to_owned(),
    };
    let outcome = async {
        ui.caller.require_write(AdminArea::Groups)?;
        let attributes = attributes_from(&values)?;
        let current = service::get(&ui.services, &ui.caller, id).await?;
        if attributes == current.attributes {
            return Ok(());
        }
        let patch = GroupPatch {
            attributes: Some(attributes),
            ..GroupPatch::default()
        };
        service::update(&ui.services, &ui.caller, id, patch)
            .await
            .map(drop)
    }
    .await;
    match outcome {
        Ok(()) => see_other(&format!("{LIST}{id}/?done=attributes")),
        Err(error) => match FieldErrors::from_error(error) {
            Ok(errors) => {
                let view = DetailView {
                    members: first_members_page(),
                    edit: None,
                    edit_errors: FieldErrors::default(),
                    member_errors: FieldErrors::default(),
                    notice: None,
                    attributes: Some((values, errors)),
                };
                detail(&ui, id, view).await
            }
            Err(other) => ui.error(other),
        },
    }
}

/// `POST /if/admin/groups/{id}/delete/`: deletes the group once confirmed.
pub(crate) async fn delete(ui: AdminUi, Path(id): Path<String>, form: FormData) -> Response {
    let id = match group_id(&ui, &id, &form) {
        Ok(id) => id,
        Err(page) => return *page,
    };
    let group = match service::get(&ui.services, &ui.caller, id).await {
        Ok(group) => group,
        Err(error) => return ui.error(error),
    };
    let confirm = Confirm {
        section: Section::Groups,
        heading: "Delete group",
        message: format!(
            "Delete {}? Its members lose the membership and its subgroups move up to its parent.",
            group.name
        ),
        action: format!("{LIST}{id}/delete/"),
        button: "Delete group",
        cancel: format!("{LIST}{id}/"),
    };
    ui.confirmed(
        &form,
        confirm,
        service::delete(&ui.services, &ui.caller, id),
        LIST,
    )
    .await
}

/// `POST /if/admin/groups/{id}/members/add/`: adds the user named `username`.
pub(crate) async fn add_member(ui: AdminUi, Path(id): Path<String>, form: FormData) -> Response {
    let id = match group_id(&ui, &id, &form) {
        Ok(id) => id,
        Err(page) => return *page,
    };
    let outcome = async {
        let username = form.get("username").trim();
        if username.is_empty() {
            return Err(AdminError::field("username", "enter a username"));
        }
        ui.caller.require_read(AdminArea::Users)?;
        let user = ui
            .services
            .store
            .user_by_username(username)
            .await?
            .ok_or_else(|| AdminError::field("username", format!("no user named {username:?}")))?;
        service::add_member(&ui.services, &ui.caller, id, user.id).await
    }
    .await;
    match outcome {
        Ok(()) => see_other(&format!("{LIST}{id}/?done=added")),
        Err(error) => match FieldErrors::from_error(error) {
            Ok(member_errors) => {
                let view = DetailView {
                    members: first_members_page(),
                    edit: None,
                    edit_errors: FieldErrors::default(),
                    member_errors,
                    notice: None,
                    attributes: None,
                };
                detail(&ui, id, view).await
            }
            Err(other) => ui.error(other),
        },
    }
}

/// `POST /if/admin/groups/{id}/members/remove/`: removes member `user` once confirmed.
pub(crate) async fn remove_member(ui: AdminUi, Path(id): Path<String>, form: FormData) -> Response {
    let id = match group_id(&ui, &id, &form) {
        Ok(id) => id,
        Err(page) => return *page,
    };
    let Ok(user) = form.get("user").parse::<UserId>() else {
        return ui.error(AdminError::not_found("user"));
    };
    let names = async {
        let group = service::get(&ui.services, &ui.caller, id).await?;
        let user = crate::admin::users::get(&ui.services, &ui.caller, user).await?;
        Ok::<_, AdminError>((group.name, user.username))
    }
    .await;
    let (group, username) = match names {
        Ok(names) => names,
        Err(error) => return ui.error(error),
    };
    let confirm = Confirm {
        section: Section::Groups,
        heading: "Remove member",
        message: format!("Remove {username} from {group}?"),
        action: format!("{LIST}{id}/members/remove/"),
        button: "Remove member",
        cancel: format!("{LIST}{id}/"),
    };
    ui.confirmed(
        &form,
        confirm,
        service::remove_member(&ui.services, &ui.caller, id, user),
        &format!("{LIST}{id}/?done=removed"),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(name: &str, parent: Option<&Group>) -> Group {
        Group {
            id: GroupId::new(),
            name: name.into(),
            parent_id: parent.map(|p| p.id),
            is_superuser: false,
            attributes: serde_json::Map::new(),
            created_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn tree_puts_children_under_parents_in_name_order() {
        let staff = group("staff", None);
        let ops = group("ops", Some(&staff));
        let dev = group("dev", Some(&staff));
        let oncall = group("oncall", Some(&ops));
        let admins = group("admins", None);
        let ordered = tree_order(vec![
            oncall.clone(),
            staff.clone(),
            ops.clone(),
            admins.clone(),
            dev.clone(),
        ]);
        let names: Vec<(&str, usize)> = ordered
            .iter()
            .map(|(g, depth)| (g.name.as_str(), *depth))
            .collect();
        assert_eq!(
            names,
            [
                ("admins", 0),
                ("staff", 0),
                ("dev", 1),
                ("ops", 1),
                ("oncall", 2)
            ]
        );
        let by_id: HashMap<GroupId, &Group> = ordered.iter().map(|(g, _)| (g.id, g)).collect();
        assert_eq!(path_of(&oncall, &by_id), "staff › ops");
    }

    #[test]
    fn attributes_take_roles_from_the_checkboxes_and_refuse_bad_json() {
        let values = |roles: &[&str], json: &str| AttributeValues {
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            json: json.to_owned(),
        };
        let set = attributes_from(&values(&["user_manager", "auditor"], r#"{"team": "ops"}"#))
            .expect("valid");
        assert_eq!(
            Value::Object(set),
            serde_json::json!({"team": "ops", "gatehouse_admin_roles": ["auditor", "user_manager"]})
        );
        assert!(
            attributes_from(&values(&[], " "))
                .expect("empty")
                .is_empty()
        );
        for (roles, json, field) in [
            (&[][..], "{not json", "attributes"),
            (&[][..], "[1, 2]", "attributes"),
            (
                &[][..],
                r#"{"gatehouse_admin_roles": ["auditor"]}"#,
                "attributes",
            ),
            (&["root"][..], "{}", "roles"),
        ] {
            let error = attributes_from(&values(roles, json)).expect_err(json);
            let errors = FieldErrors::from_error(error).expect("a field error");
            assert!(!errors.of(field).is_empty(), "{json}");
        }
    }

    #[test]
    fn groups_in_a_parent_loop_are_still_listed() {
        let mut a = group("a", None);
        let b = group("b", Some(&a));
        a.parent_id = Some(b.id);
        let ordered = tree_order(vec![a, b]);
        assert_eq!(ordered.len(), 2);
    }
}
