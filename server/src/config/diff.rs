//! What a reload changes: the services before and after, compared by id. A pure function, so the reload's
//! decisions are tested without containers.

use super::ServiceConfig;

/// The services of a new config against those in force, by id, each list in the new file's order.
#[derive(Debug, Default, PartialEq)]
pub struct Diff {
    /// Declared now, not before: available at once, started on demand.
    pub added: Vec<ServiceConfig>,
    /// A different container (image, command, environment, ports, GPUs, volumes): restarted.
    pub changed: Vec<ServiceConfig>,
    /// The same container, other settings (idle TTL, models, limits): applied to the running one.
    pub updated: Vec<ServiceConfig>,
    /// No longer declared: stopped once idle.
    pub removed: Vec<String>,
    pub unchanged: Vec<String>,
}

pub fn diff(old: &[ServiceConfig], new: &[ServiceConfig]) -> Diff {
    let mut diff = Diff::default();
    for service in new {
        match old.iter().find(|o| o.id == service.id) {
            None => diff.added.push(service.clone()),
            Some(o) if o == service => diff.unchanged.push(service.id.clone()),
            Some(o) if o.container_shape() == service.container_shape() => {
                diff.updated.push(service.clone())
            }
            Some(_) => diff.changed.push(service.clone()),
        }
    }
    diff.removed = old
        .iter()
        .filter(|o| new.iter().all(|n| n.id != o.id))
        .map(|o| o.id.clone())
        .collect();
    diff
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::service_from_toml;

    fn service(id: &str, extra: &str) -> ServiceConfig {
        let image = if extra.contains("image") {
            ""
        } else {
            "image = \"x\"\n"
        };
        service_from_toml(&format!("id = \"{id}\"\nport = 80\n{image}{extra}"))
    }

    #[test]
    fn each_service_is_added_changed_updated_removed_or_unchanged() {
        let old = [
            service("same", ""),
            service("image", ""),
            service("ttl", ""),
            service("gone", ""),
        ];
        let new = [
            service("ttl", "idle_ttl_seconds = 5"),
            service("image", "image = \"y\""),
            service("same", ""),
            service("new", ""),
        ];
        let ids = |list: &[ServiceConfig]| list.iter().map(|s| s.id.clone()).collect::<Vec<_>>();
        let diff = diff(&old, &new);
        assert_eq!(ids(&diff.added), ["new"]);
        assert_eq!(ids(&diff.changed), ["image"]);
        assert_eq!(ids(&diff.updated), ["ttl"]);
        assert_eq!(diff.removed, ["gone"]);
        assert_eq!(diff.unchanged, ["same"]);
    }

    #[test]
    fn an_environment_or_port_change_needs_a_new_container_and_models_do_not() {
        let base = [service("a", "")];
        let env = diff(&base, &[service("a", "env = { X = \"1\" }")]);
        assert_eq!(env.changed.len(), 1);
        let port = diff(&base, &[service("a", "host_port = 81")]);
        assert_eq!(port.changed.len(), 1);
        let models = diff(
            &base,
            &[service("a", "models = [\"b\"]\nmax_concurrent = 2")],
        );
        assert_eq!(models.updated.len(), 1);
    }
}
