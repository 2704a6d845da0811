//! RO-Crate metadata and the data dictionary of a cohort folder.

use crate::pipeline::{COHORT, build, csv_bytes};
use crate::toy::scene;
use chrono::DateTime;
use indexmap::IndexMap;
use std::path::PathBuf;
use vtwin::methods::cohort::crate_meta::{self, CrateInfo, FileEntry, Property};
use vtwin::methods::cohort::dictionary::{self, ColumnDocs};
use vtwin::methods::cohort::merge::ShardInfo;

fn tmp(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("cohort-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn ro_crate_lists_every_file_with_a_matching_hash() {
    let t = build(COHORT, 2, 0..40);
    let dir = tmp("crate");
    std::fs::write(dir.join("scene.toml"), COHORT).unwrap();
    let names = ["patients.csv", "observations.csv", "outcomes.csv"];
    for (name, table) in names.iter().zip(t.tables()) {
        std::fs::write(dir.join(name), csv_bytes(table)).unwrap();
    }
    std::fs::write(dir.join("data_dictionary.json"), "{}").unwrap();
    let results: Vec<FileEntry> = names
        .iter()
        .chain(&["data_dictionary.json"])
        .map(|n| FileEntry::hash(&dir, n).unwrap())
        .collect();
    let shard = ShardInfo {
        scene_sha256: crate_meta::sha256_hex(COHORT.as_bytes()),
        seed: 2,
        patients: 80,
        range: 0..40,
    };
    let info = CrateInfo {
        name: "toy cohort".into(),
        description: "test".into(),
        license: None,
        software_version: "0.1.0".into(),
        action_name: "vtwin cohort".into(),
        scene: FileEntry::hash(&dir, "scene.toml").unwrap(),
        parameters: vec![Property::new("g", "normal(0.01, 0.003)")],
        results,
        seed: 2,
        adapter: "cpu".into(),
        properties: shard.properties(),
        start: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
        end: DateTime::from_timestamp(1_700_000_060, 0).unwrap(),
    };
    let meta = crate_meta::build(&info);
    std::fs::write(
        dir.join(crate_meta::METADATA_FILE),
        serde_json::to_string_pretty(&meta).unwrap(),
    )
    .unwrap();
    assert_eq!(crate_meta::verify(&dir).unwrap(), Vec::<String>::new());

    assert_eq!(meta["@context"], crate_meta::CONTEXT);
    let graph = meta["@graph"].as_array().unwrap();
    let entity = |id: &str| {
        graph
            .iter()
            .find(|e| e["@id"] == id)
            .unwrap_or_else(|| panic!("no entity {id}"))
    };
    let desc = entity(crate_meta::METADATA_FILE);
    assert_eq!(
        (&desc["about"]["@id"], &desc["conformsTo"]["@id"]),
        (&"./".into(), &"https://w3id.org/ro/crate/1.1".into())
    );
    assert_eq!(entity("./")["@type"], "Dataset");
    assert_eq!(entity("./")["hasPart"].as_array().unwrap().len(), 5);
    let action = graph.iter().find(|e| e["@type"] == "CreateAction").unwrap();
    let tool = entity(action["instrument"]["@id"].as_str().unwrap());
    assert_eq!(
        (&tool["@type"], &tool["name"], &tool["version"]),
        (
            &"SoftwareApplication".into(),
            &"vtwin".into(),
            &"0.1.0".into()
        )
    );
    assert_eq!(action["object"][0]["@id"], "scene.toml");
    assert_eq!(action["startTime"], "2023-11-14T22:13:20Z");
    assert_eq!(action["endTime"], "2023-11-14T22:14:20Z");
    let ids = crate_meta::result_ids(&meta);
    assert_eq!(
        ids,
        [
            "patients.csv",
            "observations.csv",
            "outcomes.csv",
            "data_dictionary.json"
        ]
    );
    for id in &ids {
        let f = entity(id);
        assert_eq!(f["@type"], "File");
        let bytes = std::fs::read(dir.join(id)).unwrap();
        assert_eq!(f["sha256"], crate_meta::sha256_hex(&bytes));
        assert_eq!(f["contentSize"], bytes.len().to_string());
    }
    assert_eq!(crate_meta::property(&meta, "seed").unwrap(), "2");
    assert_eq!(crate_meta::property(&meta, "adapter").unwrap(), "cpu");
    assert_eq!(ShardInfo::from_crate(&meta, &dir).unwrap(), shard);

    let mut bytes = std::fs::read(dir.join("outcomes.csv")).unwrap();
    bytes.push(b'\n');
    std::fs::write(dir.join("outcomes.csv"), bytes).unwrap();
    std::fs::remove_file(dir.join("data_dictionary.json")).unwrap();
    let problems = crate_meta::verify(&dir).unwrap();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems[0].contains("`outcomes.csv`: sha256 does not match"),
        "{problems:?}"
    );
    assert!(
        problems[1].contains("`data_dictionary.json`"),
        "{problems:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn data_dictionary_documents_every_column_with_its_type() {
    let s = scene(COHORT);
    let t = build(COHORT, 4, 0..10);
    let units: IndexMap<String, String> =
        [("b0".to_string(), "mm".to_string())].into_iter().collect();
    let docs = ColumnDocs::for_cohort(&s.spec, &s.params, &units);
    let entries = dictionary::build(&t.tables(), &docs).unwrap();
    assert_eq!(
        entries.len(),
        t.tables().iter().map(|t| t.columns.len()).sum::<usize>()
    );
    let find = |table: &str, col: &str| {
        entries
            .iter()
            .find(|e| e.table == table && e.column == col)
            .unwrap()
    };
    assert_eq!(
        (
            find("patients", "age").kind.as_str(),
            find("patients", "age").unit.as_str()
        ),
        ("float64", "years")
    );
    assert_eq!(find("patients", "b0").unit, "mm");
    assert_eq!(find("patients", "sex").kind, "string");
    assert_eq!(
        (
            find("observations", "time").kind.as_str(),
            find("observations", "time").unit.as_str()
        ),
        ("float64", "day")
    );
    assert!(find("observations", "value").unit.contains("burden: mm"));
    assert_eq!(find("outcomes", "large").kind, "bool");
    assert_eq!(find("outcomes", "baseline").unit, "mm");
    let json = dictionary::to_json(&entries);
    assert_eq!(json["columns"][0]["type"], "int64");

    let mut extra = t.patients.clone();
    extra.push_column(
        "extra",
        vtwin::output::table::Values::Bool(vec![Some(true); extra.rows()]),
    );
    let e = dictionary::build(&[&extra], &docs).unwrap_err().to_string();
    assert!(e.contains("table `patients`, column `extra`"), "{e}");
}

#[test]
fn target_csv_is_read_by_column_with_located_errors() {
    use vtwin::methods::cohort::select::read_target_csv;
    let dir = tmp("target");
    let good = dir.join("target.csv");
    std::fs::write(&good, "id,burden\n1,40.5\n2,\n3,61\n").unwrap();
    assert_eq!(read_target_csv(&good, "burden").unwrap(), vec![40.5, 61.0]);
    let e = read_target_csv(&good, "volume").unwrap_err().to_string();
    assert!(
        e.contains("target.csv, line 1, column `volume`: no such column (header: id, burden)"),
        "{e}"
    );
    let bad = dir.join("bad.csv");
    std::fs::write(&bad, "id,burden\n1,40.5\n2,abc\n").unwrap();
    let e = read_target_csv(&bad, "burden").unwrap_err().to_string();
    assert!(
        e.contains("bad.csv, line 3, column `burden`: `abc` is not a finite number"),
        "{e}"
    );
    let e = read_target_csv(&dir.join("none.csv"), "burden")
        .unwrap_err()
        .to_string();
    assert!(e.contains("none.csv"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}
