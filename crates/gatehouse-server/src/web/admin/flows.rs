//! The flows pages (`/if/admin/flows/`, read-only): each flow with its designation and its
//! stages in the order they run, through [`crate::admin::flows`]. Flows are changed with
//! `gatehouse apply` (see docs/flows.md).

use super::{AdminUi, ListParams, Pager, Section};
use crate::admin::{AdminError, flows as service};
use askama::Template;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use gatehouse_core::FlowDefinition;
use serde_json::Value;

const LIST: &str = "/if/admin/flows/";

/// A flow as the pages show it.
struct FlowLine {
    slug: String,
    name: String,
    designation: String,
    stages: Vec<StageLine>,
}

/// One stage binding, in run order.
struct StageLine {
    order: i64,
    name: String,
    kind: String,
    guarded: bool,
}

fn text(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

impl FlowLine {
    /// Reads the stored definition (the form `gatehouse apply` accepts) leniently: a field
    /// missing from an old definition shows as empty rather than failing the page.
    fn of(flow: &FlowDefinition) -> Self {
        let definition = &flow.definition;
        let mut stages: Vec<StageLine> = definition
            .get("bindings")
            .and_then(Value::as_array)
            .map(|bindings| {
                bindings
                    .iter()
                    .map(|b| {
                        let stage = b.get("stage").cloned().unwrap_or(Value::Null);
                        StageLine {
                            order: b.get("order").and_then(Value::as_i64).unwrap_or_default(),
                            name: text(&stage, "name"),
                            kind: text(&stage, "type"),
                            guarded: b
                                .get("policies")
                                .and_then(Value::as_array)
                                .is_some_and(|p| !p.is_empty()),
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        // Bindings run in ascending order; ties keep their listed order (a stable sort).
        stages.sort_by_key(|s| s.order);
        Self {
            slug: flow.slug.clone(),
            name: text(definition, "name"),
            designation: text(definition, "designation"),
            stages,
        }
    }
}

#[derive(Template)]
#[template(path = "admin/flows.html")]
struct ListPage {
    shell: super::Shell,
    pager: Pager,
    flows: Vec<FlowLine>,
}

/// `GET /if/admin/flows/`: flows by slug with their stages.
pub(crate) async fn list(ui: AdminUi, Query(params): Query<ListParams>) -> Response {
    let query = params.query("slug");
    let page = match service::list(&ui.services, &ui.caller, &query).await {
        Ok(page) => page,
        Err(error) => return ui.error(error),
    };
    let pager = Pager::of(LIST, "slug", &query, &page);
    let page = ListPage {
        shell: ui.shell(Section::Flows),
        pager,
        flows: page.items.iter().map(FlowLine::of).collect(),
    };
    ui.render(StatusCode::OK, &page)
}

#[derive(Template)]
#[template(path = "admin/flow.html")]
struct DetailPage {
    shell: super::Shell,
    flow: FlowLine,
}

/// `GET /if/admin/flows/{slug}/`: one flow's stages in order.
pub(crate) async fn show(ui: AdminUi, Path(slug): Path<String>) -> Response {
    if slug.len() > 150 || slug.contains('\0') {
        return ui.error(AdminError::not_found("flow"));
    }
    match service::get(&ui.services, &ui.caller, &slug).await {
        Ok(flow) => {
            let page = DetailPage {
                shell: ui.shell(Section::Flows),
                flow: FlowLine::of(&flow),
            };
            ui.render(StatusCode::OK, &page)
        }
        Err(error) => ui.error(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_are_listed_in_run_order() {
        let flow = FlowDefinition {
            slug: "login".into(),
            definition: serde_json::json!({
                "name": "Login",
                "designation": "authentication",
                "bindings": [
                    {"order": 20, "stage": {"name": "password", "type": "password"}},
                    {"order": 10, "stage": {"name": "identify", "type": "identification"},
                     "policies": [{"expression": "true"}]},
                    {"order": 20, "stage": {"name": "login", "type": "user_login"}}
                ]
            }),
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        };
        let line = FlowLine::of(&flow);
        let names: Vec<&str> = line.stages.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["identify", "password", "login"]);
        assert!(line.stages[0].guarded && !line.stages[1].guarded);
        assert_eq!(line.designation, "authentication");
    }
}
