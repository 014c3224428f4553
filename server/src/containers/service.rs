//! How a declared service becomes a container: its deterministic name and the fingerprint of its declaration.

use crate::config::ServiceConfig;

impl ServiceConfig {
    /// The container's name: deterministic, so a second container of the same service cannot appear.
    pub(crate) fn container_name(&self) -> String {
        format!("tsuzuki-{}", self.id)
    }

    /// A digest of everything that shapes the container, stored in a label: a leftover container is adopted
    /// only when it was made from the same declaration.
    pub(crate) fn fingerprint(&self) -> String {
        let text = serde_json::to_string(&self.container_shape()).unwrap_or_default();
        format!("{:016x}", fnv1a(text.as_bytes()))
    }
}

/// FNV-1a, 64 bits: a digest that stays the same across builds (std's hasher may change between releases).
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acestep() -> ServiceConfig {
        crate::config::service_from_toml(
            "id = \"acestep\"\nimage = \"ghcr.io/ace-step/ace-step-1.5\"\nport = 8001\n",
        )
    }

    #[test]
    fn the_name_follows_the_id() {
        assert_eq!(acestep().container_name(), "tsuzuki-acestep");
    }

    #[test]
    fn the_fingerprint_follows_the_declaration() {
        let a = acestep();
        let mut b = a.clone();
        assert_eq!(a.fingerprint(), b.fingerprint());
        b.env
            .insert("ACESTEP_CONFIG_PATH".into(), "acestep-v15-sft".into());
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_eq!(a.fingerprint().len(), 16);
    }
}
