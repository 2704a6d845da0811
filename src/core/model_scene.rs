//! Where model families meet scenes: a family's typed config is taken from
//! the validated scene, the family checks and builds, and the keys of its
//! [`KeyedError`]s are located here (file, line, column) — models never see
//! the scene file or locate anything themselves.
//!
//! Owns: `SceneConfig` (a config from the scene's parsed sections), the
//! located `family_info` / `family_build` of one family, the dispatch on
//! `model.kind` (`build`, `info_for`) and the scene's parameter block
//! completed with model defaults (`resolve_params`). Never imports wgpu.

use crate::core::model::{Model, ModelInfo};
use crate::core::models::abm::AbmConfig;
use crate::core::models::lorenz::LorenzConfig;
use crate::core::models::rd::init::MapFile;
use crate::core::models::rd::{Rd, RdConfig, RdModel};
use crate::core::models::{Family, KeyedError};
use crate::input::params::{Distribution, ParamBlock, ParamSpec};
use crate::input::scene::{Arm, ModelKind, Scene, SceneError};

/// A family config taken from the scene's already parsed sections (the
/// same values deserialising the document would give, plus any edits a
/// driver made to the scene, such as a twin's step count).
pub trait SceneConfig: Sized {
    /// The sections, as parsed (all `info` needs).
    fn from_scene(scene: &Scene) -> Self;

    /// The sections plus the files they name, loaded by the scene layer
    /// (what `build` needs). Only reaction–diffusion has any: the
    /// `[tissue] map` file.
    fn with_inputs(scene: &Scene) -> Self {
        Self::from_scene(scene)
    }
}

impl SceneConfig for LorenzConfig {
    fn from_scene(scene: &Scene) -> Self {
        let f = &scene.file;
        LorenzConfig {
            model: f.model.clone(),
            grid: f.grid.clone(),
            time: f.time.clone(),
            initial: f.initial.clone(),
            arms: f.arms.clone(),
            stimulus: f.stimulus.clone(),
            tissue: f.tissue.clone(),
        }
    }
}

impl SceneConfig for AbmConfig {
    fn from_scene(scene: &Scene) -> Self {
        let f = &scene.file;
        AbmConfig {
            model: f.model.clone(),
            grid: f.grid.clone(),
            time: f.time.clone(),
            initial: f.initial.clone(),
            stimulus: f.stimulus.clone(),
            tissue: f.tissue.clone(),
            agents: f.agents.clone(),
        }
    }
}

impl SceneConfig for RdConfig {
    fn from_scene(scene: &Scene) -> Self {
        let f = &scene.file;
        RdConfig {
            model: f.model.clone(),
            grid: f.grid.clone(),
            time: f.time.clone(),
            parameters: f.parameters.clone(),
            initial: f.initial.clone(),
            tissue: f.tissue.clone(),
            arms: f.arms.clone(),
            stimulus: f.stimulus.clone(),
            map_file: MapFile::Absent,
        }
    }

    fn with_inputs(scene: &Scene) -> Self {
        let map_file = match scene.tissue_map_file() {
            Ok(None) => MapFile::Absent,
            Ok(Some(data)) => MapFile::Loaded(data),
            // Located at `tissue.map` by the loader; located again there.
            Err(e) => MapFile::Failed(KeyedError::new(
                e.key.unwrap_or_else(|| "tissue.map".into()),
                e.message,
            )),
        };
        RdConfig {
            map_file,
            ..RdConfig::from_scene(scene)
        }
    }
}

/// A family's error at its key in the scene file.
pub fn locate(scene: &Scene, e: KeyedError) -> SceneError {
    scene.error_at(&e.key, e.message)
}

/// The description of the scene's kind in family `F`.
pub fn family_info<F: Family>(scene: &Scene) -> Result<ModelInfo, SceneError>
where
    F::Config: SceneConfig,
{
    F::info(&F::Config::from_scene(scene)).map_err(|e| locate(scene, e))
}

/// The model of family `F` the scene describes, for one arm.
pub fn family_build<F: Family>(
    scene: &Scene,
    block: &ParamBlock,
    arm: &Arm,
    steps: u64,
) -> Result<Box<dyn Model>, SceneError>
where
    F::Config: SceneConfig,
{
    F::build(&F::Config::with_inputs(scene), block, arm, steps).map_err(|e| locate(scene, e))
}

/// The reaction–diffusion model a scene describes, as its concrete type
/// (for benches and tests of the CPU twin itself).
pub fn rd_model(
    scene: &Scene,
    block: &ParamBlock,
    arm: &Arm,
    steps: u64,
) -> Result<RdModel, SceneError> {
    RdModel::build(&RdConfig::with_inputs(scene), block, arm, steps).map_err(|e| locate(scene, e))
}

/// The parameter block a plan uses: the scene's parameters in file order,
/// then every model parameter the scene leaves out, fixed at its default.
/// Unknown parameters of built-in models are errors naming the key.
pub fn resolve_params(scene: &Scene, info: &ModelInfo) -> Result<ParamBlock, SceneError> {
    let mut block = scene.params.clone();
    // Parameters the scene uses outside the model: initial values that name
    // them and a calibration's error scale.
    let used_elsewhere = |name: &str| {
        scene.file.initial.param_refs().any(|r| r == name)
            || scene.file.calibrate_error_scale() == Some(name)
    };
    if scene.file.model.kind != ModelKind::Custom {
        for p in &block.params {
            if !info.params.iter().any(|q| q.name == p.name) && !used_elsewhere(&p.name) {
                return Err(scene.error_at(
                    &format!("parameters.{}", p.name),
                    format!(
                        "model `{}` has no parameter `{}`; it has {}",
                        info.kind,
                        p.name,
                        info.params
                            .iter()
                            .map(|q| q.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
        }
        for q in &info.params {
            if block.index_of(&q.name).is_none() {
                block.params.push(ParamSpec {
                    name: q.name.clone(),
                    dist: Distribution::Fixed(q.default),
                });
            }
        }
    }
    Ok(block)
}

/// Builds the model a scene describes, for one treatment arm.
pub fn build(
    scene: &Scene,
    block: &ParamBlock,
    arm: &Arm,
    steps: u64,
) -> Result<Box<dyn Model>, SceneError> {
    match scene.file.model.kind {
        ModelKind::Lorenz96 | ModelKind::Lorenz63 => {
            family_build::<crate::core::models::lorenz::Lorenz>(scene, block, arm, steps)
        }
        ModelKind::TumourAbm => {
            family_build::<crate::core::models::abm::Abm>(scene, block, arm, steps)
        }
        _ => family_build::<Rd>(scene, block, arm, steps),
    }
}

/// The family's description (parameters with defaults) without a scene.
pub fn info_for(scene: &Scene) -> Result<ModelInfo, SceneError> {
    match scene.file.model.kind {
        ModelKind::Lorenz96 | ModelKind::Lorenz63 => {
            family_info::<crate::core::models::lorenz::Lorenz>(scene)
        }
        ModelKind::TumourAbm => family_info::<crate::core::models::abm::Abm>(scene),
        _ => family_info::<Rd>(scene),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::models::lorenz::Lorenz;
    use std::path::Path;

    /// The config taken from the parsed scene is the one the document
    /// itself deserialises to, so `SceneConfig` adds nothing of its own.
    #[test]
    fn lorenz_config_matches_the_document() {
        for name in ["lorenz96_sakov2008.toml", "lorenz63_sakov2012.toml"] {
            let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("scenes")
                .join(name);
            let scene = Scene::load(&path).unwrap();
            let from_doc: LorenzConfig = toml::from_str(&scene.source).unwrap();
            let from_scene = LorenzConfig::from_scene(&scene);
            assert_eq!(format!("{from_doc:?}"), format!("{from_scene:?}"));
            let info = family_info::<Lorenz>(&scene).unwrap();
            assert_eq!(info.kind, Lorenz::info(&from_doc).unwrap().kind);
        }
    }

    #[test]
    fn abm_config_matches_the_document() {
        for name in ["tumour_abm.toml", "tumour_abm_therapy.toml"] {
            let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("scenes")
                .join(name);
            let scene = Scene::load(&path).unwrap();
            let from_doc: AbmConfig = toml::from_str(&scene.source).unwrap();
            let from_scene = AbmConfig::from_scene(&scene);
            assert_eq!(format!("{from_doc:?}"), format!("{from_scene:?}"));
        }
    }

    /// Every shipped reaction–diffusion scene: the config taken from the
    /// parsed scene is the one its document deserialises to (the map file
    /// is loaded only for builds).
    #[test]
    fn rd_config_matches_the_document() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenes");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|x| x != "toml") {
                continue;
            }
            let scene = Scene::load(&path).unwrap();
            if matches!(
                scene.file.model.kind,
                ModelKind::Lorenz96 | ModelKind::Lorenz63 | ModelKind::TumourAbm
            ) {
                continue;
            }
            let from_doc: RdConfig = toml::from_str(&scene.source).unwrap();
            let from_scene = RdConfig::from_scene(&scene);
            assert_eq!(
                format!("{from_doc:?}"),
                format!("{from_scene:?}"),
                "{}",
                path.display()
            );
            assert_eq!(
                format!("{:?}", family_info::<Rd>(&scene).unwrap()),
                format!("{:?}", Rd::info(&from_doc).unwrap())
            );
            seen += 1;
        }
        assert!(seen >= 8, "only {seen} reaction–diffusion scenes");
    }

    /// A `[tissue] map` file reaches the model as its first nx·ny aux
    /// values (loaded by the scene layer); a broken one is an error at
    /// `tissue.map`, reported after the model's own checks as before.
    #[test]
    fn tissue_map_files_are_loaded_for_the_model() {
        let dir = std::env::temp_dir().join(format!("vtwin-rd-map-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let values = [1.0f32, 2.0, 0.5, 1.5, 1.0, 3.0];
        crate::output::io::write_npy_f32(&dir.join("map.npy"), &[2, 3], &values).unwrap();
        crate::output::io::write_npy_f32(&dir.join("wide.npy"), &[3, 2], &values).unwrap();
        let scene = |map: &str, tail: &str| {
            let text = format!(
                "[model]\nkind = \"gray_scott\"\n[grid]\nnx = 3\nny = 2\n[time]\ndt = 0.1\n\
                 steps = 1\n[tissue]\nmap = \"{map}\"\n{tail}"
            );
            Scene::parse(&dir.join("s.toml"), &text).unwrap()
        };
        let model = |sc: &Scene| {
            let block = resolve_params(sc, &info_for(sc).unwrap()).unwrap();
            rd_model(sc, &block, &sc.arm(None).unwrap(), 1)
        };
        let m = model(&scene("map.npy", "")).unwrap();
        assert_eq!(&m.aux[..6], &values);
        assert_eq!(m.max_tissue(), 3.0);
        let e = model(&scene("wide.npy", "")).unwrap_err();
        assert_eq!((e.key.as_deref(), e.line), (Some("tissue.map"), Some(10)));
        assert!(e.message.contains("has shape [3, 2]"), "{}", e.message);
        let stim = "[[stimulus]]\nstart = 0.0\nduration = 1.0\nregion = [0.0, 0.0, 1.0, 1.0]\n\
                    amplitude = 1.0\n";
        let e = model(&scene("wide.npy", stim)).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("stimulus"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The keys only a custom model takes are refused, at their line, by
    /// every built-in reaction–diffusion and Lorenz kind.
    #[test]
    fn custom_only_keys_are_refused_by_built_in_kinds() {
        for (kind, line, key) in [
            ("gray_scott", "species = [\"u\"]", "species"),
            ("tumour", "diffusion = { N = \"D\" }", "diffusion"),
            ("lorenz63", "reactions = { x = \"1\" }", "reactions"),
        ] {
            let text = format!(
                "[model]\nkind = \"{kind}\"\n{line}\n[grid]\nnx = 3\nny = 1\n[time]\n\
                 dt = 0.01\nsteps = 1\n"
            );
            let scene = Scene::parse(Path::new("k.toml"), &text).unwrap();
            let e = info_for(&scene).unwrap_err();
            assert_eq!(e.key, Some(format!("model.{key}")), "{kind}");
            assert_eq!(e.line, Some(3), "{kind}");
            assert_eq!(e.message, format!("`{key}` is only for kind = \"custom\""));
        }
    }

    /// A family's key is located at its line in the file.
    #[test]
    fn keyed_errors_are_located() {
        let text =
            "[model]\nkind = \"lorenz63\"\n[grid]\nnx = 4\nny = 1\n[time]\ndt = 0.01\nsteps = 1\n";
        let scene = Scene::parse(Path::new("l.toml"), text).unwrap();
        let block = resolve_params(&scene, &family_info::<Lorenz>(&scene).unwrap()).unwrap();
        let arm = scene.arm(None).unwrap();
        let e = family_build::<Lorenz>(&scene, &block, &arm, 1)
            .err()
            .unwrap();
        assert_eq!(e.key.as_deref(), Some("grid.nx"));
        assert_eq!(e.line, Some(4));
        assert_eq!(e.message, "lorenz63 has 3 variables: set nx = 3, got 4");
    }
}
