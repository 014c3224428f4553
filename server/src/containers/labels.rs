//! How this server marks its containers, so it finds them again after a crash and never takes another
//! server's or a user's container.

use std::collections::HashMap;
use std::path::Path;

use super::service;
use crate::config::ServiceConfig;

pub(super) const LABEL_MANAGED: &str = "tsuzuki.managed";
pub(super) const LABEL_SERVICE: &str = "tsuzuki.service";
pub(super) const LABEL_INSTANCE: &str = "tsuzuki.instance";
pub(super) const LABEL_FINGERPRINT: &str = "tsuzuki.fingerprint";

/// The labels of `service`'s container made by server `instance`.
pub(super) fn labels(service: &ServiceConfig, instance: &str) -> HashMap<String, String> {
    HashMap::from([
        (LABEL_MANAGED.to_string(), "true".to_string()),
        (LABEL_SERVICE.to_string(), service.id.clone()),
        (LABEL_INSTANCE.to_string(), instance.to_string()),
        (LABEL_FINGERPRINT.to_string(), service.fingerprint()),
    ])
}

/// The instance label of a server keeping its data in `data_dir`: the same across restarts, different for
/// two servers on one engine.
pub(super) fn instance(data_dir: &Path) -> String {
    let dir = data_dir
        .canonicalize()
        .unwrap_or_else(|_| data_dir.to_path_buf());
    format!("{:016x}", service::fnv1a(dir.to_string_lossy().as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_instance_follows_the_data_dir_whatever_its_spelling() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("x")).unwrap();
        let same = dir.path().join("x").join("..");
        assert_eq!(instance(dir.path()), instance(&same));
        assert_ne!(instance(dir.path()), instance(&dir.path().join("y")));
        assert_eq!(instance(dir.path()).len(), 16);
    }
}
