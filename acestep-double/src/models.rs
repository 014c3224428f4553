//! The models the server holds and how its model-service routes describe them (`model_service_routes.py`,
//! `model_init_service.py`). The February server loads everything before it listens; the current one loads
//! on its first job or on `POST /v1/init`, and can switch the DiT of a slot and the LM there.

use serde::Serialize;

use super::init_request::InitRequest;
use super::vram::SHORT_FREE_GB;

/// The DiT checkpoints on disk, in slot order (ACESTEP_CONFIG_PATH, ACESTEP_CONFIG_PATH2); unknown names
/// in a job fall back to the first slot's, as in ACE-Step.
pub(crate) const DIT_MODELS: [&str; 2] = ["acestep-v15-turbo", "acestep-v15-sft"];
/// The LM that needs the most memory.
pub(crate) const LM_4B: &str = "acestep-5Hz-lm-4B";
/// What results name as the LM while ACESTEP_LM_MODEL_PATH is unset, whatever is loaded (a quirk), and
/// what `/v1/init` loads when asked for an LM without naming one.
pub(crate) const UNSET_LM: &str = "acestep-5Hz-lm-0.6B";

const TASKS_TURBO: &[&str] = &["text2music", "repaint", "cover"];
const TASKS_BASE: &[&str] = &[
    "text2music",
    "repaint",
    "cover",
    "extract",
    "lego",
    "complete",
];

pub(crate) struct Models {
    /// The DiT of each configured slot, and whether it is loaded.
    slots: [(String, bool); 2],
    lm: Option<String>,
    /// ACESTEP_LM_MODEL_PATH, which `/v1/init` sets.
    lm_path: Option<String>,
    /// The LM checkpoints on disk.
    lms: Vec<String>,
    /// The double's February reading: a job runs with the LM its `lm_model_path` names (if on disk),
    /// so a client's fallback to a smaller LM can be tested there too.
    lm_per_job: bool,
}

/// A `/v1/init` that failed: upstream wraps it in an HTTP 200 with this `code` and `error`.
#[derive(Debug, PartialEq)]
pub(crate) struct Failure {
    pub code: u16,
    pub error: String,
}

impl Models {
    /// February: everything loaded before the port opens.
    pub fn february(lms: Vec<String>) -> Models {
        let mut models = Models::current(lms);
        models.load_default();
        models.lm_per_job = true;
        models
    }

    /// Current: nothing loaded until the first job or `/v1/init`.
    pub fn current(lms: Vec<String>) -> Models {
        Models {
            slots: DIT_MODELS.map(|name| (name.to_string(), false)),
            lm: None,
            lm_path: None,
            lms,
            lm_per_job: false,
        }
    }

    pub fn initialized(&self) -> bool {
        self.slots[0].1
    }

    /// The first job's load: every configured DiT and the LM the GPU tier recommends (the first listed).
    pub fn load_default(&mut self) {
        for slot in &mut self.slots {
            slot.1 = true;
        }
        self.lm = self.lms.first().cloned();
    }

    /// `select_generation_handler`: the primary, or a loaded second slot by name; anything else the primary.
    pub fn dit_for(&self, requested: Option<&str>) -> String {
        let [primary, second] = &self.slots;
        match requested {
            Some(name) if second.1 && name == second.0 && name != primary.0 => second.0.clone(),
            _ => primary.0.clone(),
        }
    }

    /// The LM a job runs with.
    pub fn lm_for(&self, requested: Option<&str>) -> Option<&str> {
        let asked = self
            .lms
            .iter()
            .find(|l| self.lm_per_job && requested == Some(l.as_str()));
        asked.map(String::as_str).or(self.lm.as_deref())
    }

    /// The `lm_model` results report: ACESTEP_LM_MODEL_PATH, not necessarily what is loaded.
    pub fn reported_lm(&self) -> &str {
        self.lm_path.as_deref().unwrap_or(UNSET_LM)
    }

    /// What can be refused before loading anything: a slot that was not configured, a DiT not on disk.
    pub fn check(&self, request: &InitRequest) -> Result<(), Failure> {
        let slot = request.slot.unwrap_or(1);
        if usize::from(slot) > self.slots.len() {
            return Err(Failure {
                code: 400,
                error: format!(
                    "Slot {slot} is not available because ACESTEP_CONFIG_PATH{slot} was not set at \
                     startup. Restart the API with ACESTEP_CONFIG_PATH{slot} to enable this slot."
                ),
            });
        }
        let model = self.target(request);
        if DIT_MODELS.contains(&model.as_str()) {
            return Ok(());
        }
        Err(Failure {
            code: 500,
            error: format!(
                "Model initialization failed: DiT init failed for slot {slot}: \
                 ❌ No checkpoint named {model} could be found or downloaded"
            ),
        })
    }

    fn target(&self, request: &InitRequest) -> String {
        let slot = usize::from(request.slot.unwrap_or(1).max(1)) - 1;
        let current = &self.slots[slot.min(self.slots.len() - 1)].0;
        let named = request.model.as_deref().map(str::trim);
        named
            .filter(|m| !m.is_empty())
            .unwrap_or(current)
            .to_string()
    }

    /// Applies a checked `/v1/init` once its load time has passed. The DiT is switched first; an LM that is
    /// not on disk then fails the request and leaves no LM loaded, as upstream's order of work does.
    pub fn init(&mut self, request: &InitRequest) -> Result<Initialized, Failure> {
        self.check(request)?;
        let slot = request.slot.unwrap_or(1);
        let model = self.target(request);
        self.slots[usize::from(slot) - 1] = (model.clone(), true);
        let mut loaded_lm_model = None;
        if request.init_llm {
            let path = request
                .lm_model_path
                .as_deref()
                .or(self.lm_path.as_deref())
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .unwrap_or(UNSET_LM)
                .to_string();
            self.lm_path = Some(path.clone());
            let name = path
                .rsplit(['/', '\\'])
                .next()
                .unwrap_or_default()
                .to_string();
            if !self.lms.contains(&name) {
                self.lm = None;
                return Err(Failure {
                    code: 500,
                    error: format!(
                        "Model initialization failed: LLM init failed: \
                         ❌ No LM checkpoint named {name} could be found or downloaded"
                    ),
                });
            }
            self.lm = Some(name.clone());
            loaded_lm_model = Some(name);
        }
        let inventory = self.inventory(false);
        Ok(Initialized {
            message: "Model initialization completed",
            slot,
            loaded_model: model,
            loaded_lm_model,
            models: inventory.models,
            lm_models: inventory.lm_models,
            llm_initialized: inventory.llm_initialized,
        })
    }

    /// `_collect_model_inventory`: DiTs and LMs on disk or loaded, sorted by name. `short` is the
    /// `lm_4b_short_of_vram` fault, which also shows in the GPU's free memory.
    pub fn inventory(&self, short: bool) -> Inventory {
        let mut names: Vec<&str> = DIT_MODELS.to_vec();
        names.extend(self.slots.iter().map(|s| s.0.as_str()));
        names.sort_unstable();
        names.dedup();
        let models = names
            .into_iter()
            .map(|name| DitEntry {
                name: name.to_string(),
                is_default: name == self.slots[0].0,
                is_loaded: self.slots.iter().any(|s| s.1 && s.0 == name),
                supported_task_types: if name.contains("turbo") {
                    TASKS_TURBO
                } else {
                    TASKS_BASE
                },
            })
            .collect();
        let mut lms: Vec<&str> = self.lms.iter().map(String::as_str).collect();
        lms.extend(self.lm.as_deref());
        lms.sort_unstable();
        lms.dedup();
        let lm_models = lms
            .into_iter()
            .map(|name| LmEntry {
                name: name.to_string(),
                is_loaded: self.lm.as_deref() == Some(name),
            })
            .collect();
        Inventory {
            models,
            default_model: Some(self.slots[0].0.clone()),
            lm_models,
            loaded_lm_model: self.lm.clone(),
            llm_initialized: self.lm.is_some(),
            gpu: self.gpu(short),
        }
    }

    /// `/health`. `loaded_model` is the configured primary even before it is loaded, as upstream reads it
    /// from the config path.
    pub fn health(&self, short: bool) -> Health {
        Health {
            status: "ok",
            service: "ACE-Step API",
            version: "1.0",
            models_initialized: self.initialized(),
            llm_initialized: self.lm.is_some(),
            loaded_model: Some(self.slots[0].0.clone()),
            loaded_lm_model: self.lm.clone(),
            gpu: self.gpu(short),
        }
    }

    /// One 80 GB card; its free memory falls with what is loaded (rough weights plus the LM's KV cache).
    fn gpu(&self, short: bool) -> GpuStatus {
        const TOTAL_GB: f64 = 79.19;
        const DIT_GB: f64 = 4.7;
        let lm_gb = match self.lm.as_deref() {
            None => 0.0,
            Some(name) if name.ends_with("-4B") => 12.0,
            Some(name) if name.ends_with("-1.7B") => 8.0,
            Some(_) => 3.0,
        };
        let dits = self.slots.iter().filter(|s| s.1).count() as f64;
        let free = if short && self.lm.as_deref() == Some(LM_4B) {
            SHORT_FREE_GB
        } else {
            ((TOTAL_GB - dits * DIT_GB - lm_gb) * 100.0).round() / 100.0
        };
        GpuStatus {
            gpus: [Gpu {
                index: 0,
                name: "NVIDIA H100 80GB HBM3",
                total_vram_gb: TOTAL_GB,
                free_vram_gb: free,
                compute_capability: [9, 0],
            }],
            gpu_mapping: None,
            device_map: self.initialized().then_some(DeviceMap {
                dit: "cuda:0",
                vae: "cuda:0",
                text_encoder: "cuda:0",
                lm: "cuda:0",
                lm_tensor_parallel: 1,
                summary: "dit:0, vae:0, text_encoder:0, lm:0",
                multi_device: false,
            }),
        }
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct DitEntry {
    name: String,
    is_default: bool,
    is_loaded: bool,
    supported_task_types: &'static [&'static str],
}

#[derive(Debug, Serialize)]
pub(crate) struct LmEntry {
    name: String,
    is_loaded: bool,
}

#[derive(Serialize)]
pub(crate) struct Inventory {
    models: Vec<DitEntry>,
    default_model: Option<String>,
    lm_models: Vec<LmEntry>,
    loaded_lm_model: Option<String>,
    llm_initialized: bool,
    #[serde(flatten)]
    gpu: GpuStatus,
}

#[derive(Serialize)]
pub(crate) struct Health {
    status: &'static str,
    service: &'static str,
    version: &'static str,
    models_initialized: bool,
    llm_initialized: bool,
    loaded_model: Option<String>,
    loaded_lm_model: Option<String>,
    #[serde(flatten)]
    gpu: GpuStatus,
}

#[derive(Debug, Serialize)]
pub(crate) struct Initialized {
    message: &'static str,
    slot: u8,
    loaded_model: String,
    loaded_lm_model: Option<String>,
    models: Vec<DitEntry>,
    lm_models: Vec<LmEntry>,
    llm_initialized: bool,
}

#[derive(Serialize)]
struct GpuStatus {
    gpus: [Gpu; 1],
    gpu_mapping: Option<String>,
    device_map: Option<DeviceMap>,
}

#[derive(Serialize)]
struct Gpu {
    index: u32,
    name: &'static str,
    total_vram_gb: f64,
    free_vram_gb: f64,
    compute_capability: [u32; 2],
}

#[derive(Serialize)]
struct DeviceMap {
    dit: &'static str,
    vae: &'static str,
    text_encoder: &'static str,
    lm: &'static str,
    lm_tensor_parallel: u32,
    summary: &'static str,
    multi_device: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, to_value};

    fn both() -> Vec<String> {
        vec!["acestep-5Hz-lm-4B".into(), "acestep-5Hz-lm-1.7B".into()]
    }

    fn init(model: Option<&str>, slot: Option<u8>, lm: Option<&str>) -> InitRequest {
        InitRequest {
            model: model.map(Into::into),
            slot,
            init_llm: lm.is_some(),
            lm_model_path: lm.map(Into::into),
        }
    }

    #[test]
    fn the_current_server_starts_empty_and_the_first_job_loads_the_recommended_lm() {
        let mut models = Models::current(both());
        let health = to_value(models.health(false)).unwrap();
        assert_eq!(
            (
                &health["models_initialized"],
                &health["llm_initialized"],
                &health["loaded_model"],
                &health["device_map"]
            ),
            (
                &json!(false),
                &json!(false),
                &json!("acestep-v15-turbo"),
                &json!(null)
            )
        );
        models.load_default();
        assert!(models.initialized());
        assert_eq!(models.lm_for(Some("acestep-5Hz-lm-1.7B")), Some(LM_4B));
        assert_eq!(
            models.reported_lm(),
            UNSET_LM,
            "ACESTEP_LM_MODEL_PATH is still unset"
        );
        let inventory = to_value(models.inventory(false)).unwrap();
        assert_eq!(
            inventory["lm_models"],
            json!([
                {"name": "acestep-5Hz-lm-1.7B", "is_loaded": false},
                {"name": "acestep-5Hz-lm-4B", "is_loaded": true}
            ])
        );
        assert_eq!(inventory["models"][0]["name"], "acestep-v15-sft");
        assert_eq!(
            inventory["models"][1]["supported_task_types"],
            json!(TASKS_TURBO)
        );
        assert_eq!(inventory["gpus"][0]["free_vram_gb"], 57.79);
    }

    #[test]
    fn init_switches_the_lm_and_what_results_report() {
        let mut models = Models::current(both());
        let done = models
            .init(&init(None, None, Some("acestep-5Hz-lm-1.7B")))
            .unwrap();
        let done = to_value(done).unwrap();
        assert_eq!(done["loaded_model"], "acestep-v15-turbo");
        assert_eq!(done["loaded_lm_model"], "acestep-5Hz-lm-1.7B");
        assert_eq!(done["llm_initialized"], true);
        assert!(models.initialized());
        assert_eq!(models.lm_for(None), Some("acestep-5Hz-lm-1.7B"));
        assert_eq!(models.reported_lm(), "acestep-5Hz-lm-1.7B");
        let dit_only = models
            .init(&init(Some("acestep-v15-sft"), None, None))
            .unwrap();
        assert_eq!(to_value(dit_only).unwrap()["loaded_lm_model"], json!(null));
        assert_eq!(models.dit_for(Some("acestep-v15-turbo")), "acestep-v15-sft");
    }

    #[test]
    fn init_refuses_unknown_names_and_slots_as_upstream_wraps_them() {
        let mut models = Models::current(both());
        let unknown = models
            .check(&init(Some("acestep-v15-xl"), None, None))
            .unwrap_err();
        assert_eq!(unknown.code, 500);
        assert!(unknown
            .error
            .starts_with("Model initialization failed: DiT init failed for slot 1:"));
        assert!(unknown.error.contains("acestep-v15-xl"));
        let slot = models.check(&init(None, Some(3), None)).unwrap_err();
        assert_eq!(slot.code, 400);
        assert!(slot.error.starts_with("Slot 3 is not available"));
        let lm = models
            .init(&init(None, None, Some("acestep-5Hz-lm-9B")))
            .unwrap_err();
        assert!(
            lm.error
                .starts_with("Model initialization failed: LLM init failed:"),
            "{lm:?}"
        );
        assert!(
            models.initialized(),
            "the DiT was loaded before the LM failed"
        );
        assert_eq!(models.lm_for(None), None);
    }

    #[test]
    fn february_jobs_run_with_the_lm_they_name() {
        let models = Models::february(both());
        assert!(models.initialized());
        assert_eq!(
            models.lm_for(Some("acestep-5Hz-lm-1.7B")),
            Some("acestep-5Hz-lm-1.7B")
        );
        assert_eq!(models.lm_for(Some("nonsense")), Some(LM_4B));
        assert_eq!(models.lm_for(None), Some(LM_4B));
        assert_eq!(models.dit_for(Some("acestep-v15-sft")), "acestep-v15-sft");
        assert_eq!(models.dit_for(Some("nope")), "acestep-v15-turbo");
    }

    #[test]
    fn a_short_card_shows_in_the_free_memory_while_the_4b_is_loaded() {
        let mut models = Models::current(both());
        models.load_default();
        let free = |m: &Models, short| {
            to_value(m.health(short)).unwrap()["gpus"][0]["free_vram_gb"].clone()
        };
        assert_eq!(free(&models, true), json!(SHORT_FREE_GB));
        models
            .init(&init(None, None, Some("acestep-5Hz-lm-1.7B")))
            .unwrap();
        assert_ne!(free(&models, true), json!(SHORT_FREE_GB));
    }
}
