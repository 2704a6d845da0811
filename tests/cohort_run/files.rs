//! The cohort folder: every file present, RO-Crate and manifest hashes that
//! match the files, Parquet and CSV tables that read back as the cohort
//! built in memory, a complete data dictionary, byte-identical reruns.

use crate::common::{build, cohort_cli, read, scene_path, tmp};
use serde_json::Value;
use vtwin::engine::backend::Backend;
use vtwin::input::scene::Scene;
use vtwin::methods::cohort::crate_meta;
use vtwin::methods::cohort_files;

const DATA: [&str; 4] = [
    "patients.parquet",
    "observations.parquet",
    "outcomes.parquet",
    "data_dictionary.json",
];

fn json(path: &std::path::Path) -> Value {
    serde_json::from_slice(&read(path)).expect("valid JSON")
}

#[test]
fn ro_crate_and_manifest_hash_every_file() {
    let dir = tmp("crate");
    let out = dir.join("c");
    cohort_cli(&scene_path(), 40, &out, &[]);
    assert_eq!(crate_meta::verify(&out).unwrap(), Vec::<String>::new());

    let meta = crate_meta::read(&out).unwrap();
    let graph = meta["@graph"].as_array().unwrap();
    let entity = |id: &str| graph.iter().find(|e| e["@id"] == id).cloned();
    let action = graph.iter().find(|e| e["@type"] == "CreateAction").unwrap();
    let tool = entity(action["instrument"]["@id"].as_str().unwrap()).unwrap();
    assert_eq!(tool["name"], "vtwin");
    assert_eq!(tool["version"], env!("CARGO_PKG_VERSION"));
    let ids = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x["@id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(&action["result"]), DATA.to_vec());
    let object = ids(&action["object"]);
    assert_eq!(object[0], "scene.toml");
    for p in ["D", "k", "alpha", "beta", "theta", "kappa"] {
        assert!(object.contains(&format!("#param-{p}")), "{object:?}");
    }
    for f in DATA.iter().chain(&["scene.toml"]) {
        let e = entity(f).unwrap_or_else(|| panic!("no File entity {f}"));
        assert_eq!(e["@type"], "File");
        assert_eq!(e["sha256"], crate_meta::sha256_hex(&read(&out.join(f))));
    }
    assert_eq!(crate_meta::property(&meta, "seed").unwrap(), "11");
    assert_eq!(crate_meta::property(&meta, "adapter").unwrap(), "cpu");
    assert!(action["startTime"].as_str().is_some() && action["endTime"].as_str().is_some());
    // The scene copy is the scene, byte for byte.
    assert_eq!(read(&out.join("scene.toml")), read(&scene_path()));

    // manifest.json lists every other file with its hash.
    let manifest = json(&out.join("manifest.json"));
    let outputs = manifest["outputs"].as_array().unwrap();
    assert_eq!(outputs.len(), 6, "{outputs:?}");
    for o in outputs {
        let path = out.join(o["path"].as_str().unwrap());
        assert_eq!(o["sha256"], crate_meta::sha256_hex(&read(&path)));
    }
    assert_eq!(manifest["patients"], 40);
    assert_eq!(manifest["backend"], "cpu");

    // The check can fail: a changed table no longer matches its hash.
    let mut bytes = read(&out.join("outcomes.parquet"));
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    std::fs::write(out.join("outcomes.parquet"), bytes).unwrap();
    let problems = crate_meta::verify(&out).unwrap();
    assert_eq!(
        problems,
        vec!["`outcomes.parquet`: sha256 does not match the file"]
    );
}

#[test]
fn parquet_and_csv_tables_read_back_as_the_cohort_built_in_memory() {
    let scene = Scene::load(&scene_path()).unwrap();
    let (want, _) = build(&scene, &Backend::Cpu, 0..30, 7);
    let dir = tmp("roundtrip");
    let pq = dir.join("pq");
    cohort_cli(&scene_path(), 30, &pq, &[]);
    for t in want.tables() {
        let got = vtwin::output::io::read_parquet(&pq.join(format!("{}.parquet", t.name))).unwrap();
        assert_eq!(&got, t, "table {}", t.name);
    }
    let csv = dir.join("csv");
    cohort_cli(&scene_path(), 30, &csv, &["--format", "csv"]);
    let folder = cohort_files::read(&csv).unwrap();
    assert_eq!(folder.tables, want);
    assert!(folder.is_whole());
    assert_eq!(cohort_files::read(&pq).unwrap().tables, want);
}

#[test]
fn the_data_dictionary_documents_every_column_with_its_type() {
    let dir = tmp("dict");
    let out = dir.join("c");
    cohort_cli(&scene_path(), 10, &out, &[]);
    let dict = json(&out.join("data_dictionary.json"));
    let entries = dict["columns"].as_array().unwrap();
    let folder = cohort_files::read(&out).unwrap();
    let mut n = 0;
    for t in folder.tables.tables() {
        for c in &t.columns {
            let e = entries
                .iter()
                .find(|e| e["table"] == t.name.as_str() && e["column"] == c.name.as_str())
                .unwrap_or_else(|| panic!("{}.{} undocumented", t.name, c.name));
            assert_eq!(e["type"], c.values.type_name());
            assert!(!e["description"].as_str().unwrap().is_empty());
            n += 1;
        }
    }
    assert_eq!(n, entries.len(), "no entries for absent columns");
    let unit = |t: &str, c: &str| {
        entries
            .iter()
            .find(|e| e["table"] == t && e["column"] == c)
            .map(|e| e["unit"].clone())
    };
    assert_eq!(unit("patients", "age"), Some("years".into()));
    assert_eq!(unit("patients", "D"), Some("mm²/day".into()));
}

#[test]
fn same_scene_and_seed_give_byte_identical_tables() {
    let dir = tmp("determinism");
    let (a, b, c) = (dir.join("a"), dir.join("b"), dir.join("c"));
    cohort_cli(&scene_path(), 25, &a, &["--seed", "5"]);
    cohort_cli(&scene_path(), 25, &b, &["--seed", "5", "--chunk", "4"]);
    cohort_cli(&scene_path(), 25, &c, &["--seed", "6"]);
    for f in DATA {
        assert_eq!(read(&a.join(f)), read(&b.join(f)), "{f}");
    }
    assert_ne!(
        read(&a.join("patients.parquet")),
        read(&c.join("patients.parquet"))
    );
}
