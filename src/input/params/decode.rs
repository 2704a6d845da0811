//! A distribution from its TOML form: a number (fixed value) or a table
//! `{ dist = "…", … }` whose keys are checked against the distribution.

use super::{Distribution, ParamError};
use indexmap::IndexMap;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use std::fmt;

impl<'de> Deserialize<'de> for Distribution {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Distribution;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a number or a table like { dist = \"uniform\", low = 0.1, high = 0.5 }",
                )
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Distribution, E> {
                Ok(Distribution::Fixed(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Distribution, E> {
                Ok(Distribution::Fixed(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Distribution, E> {
                Ok(Distribution::Fixed(v as f64))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Distribution, A::Error> {
                let mut fields: IndexMap<String, toml::Value> = IndexMap::new();
                while let Some(k) = map.next_key::<String>()? {
                    let v: toml::Value = map.next_value()?;
                    fields.insert(k, v);
                }
                dist_from_fields(fields).map_err(de::Error::custom)
            }
        }
        d.deserialize_any(V)
    }
}

fn dist_from_fields(mut f: IndexMap<String, toml::Value>) -> Result<Distribution, ParamError> {
    let kind = match f.shift_remove("dist") {
        Some(toml::Value::String(s)) => s,
        Some(other) => return Err(format!("`dist` must be a string, got {}", other.type_str()).into()),
        None => return Err("a distribution table needs a `dist` key (uniform, loguniform, normal, lognormal, truncnormal, choice)".into()),
    };
    let allowed: &[&str] = match kind.as_str() {
        "uniform" | "loguniform" => &["low", "high"],
        "normal" => &["mean", "sd"],
        "lognormal" => &["mu", "sigma"],
        "truncnormal" => &["mean", "sd", "low", "high"],
        "choice" => &["values", "weights"],
        other => {
            return Err(format!(
                "unknown distribution `{other}`; expected one of uniform, loguniform, normal, lognormal, truncnormal, choice"
            ).into());
        }
    };
    if let Some(k) = f.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(format!(
            "unknown key `{k}` for dist = \"{kind}\"; expected {}",
            allowed.join(", ")
        )
        .into());
    }
    let num = |f: &IndexMap<String, toml::Value>, key: &str| -> Result<f64, ParamError> {
        match f.get(key) {
            Some(toml::Value::Float(x)) => Ok(*x),
            Some(toml::Value::Integer(i)) => Ok(*i as f64),
            Some(other) => {
                Err(format!("`{key}` must be a number, got {}", other.type_str()).into())
            }
            None => Err(format!("dist = \"{kind}\" needs `{key}`").into()),
        }
    };
    let list = |f: &IndexMap<String, toml::Value>,
                key: &str|
     -> Result<Option<Vec<f64>>, ParamError> {
        match f.get(key) {
            None => Ok(None),
            Some(toml::Value::Array(a)) => a
                .iter()
                .map(|v| match v {
                    toml::Value::Float(x) => Ok(*x),
                    toml::Value::Integer(i) => Ok(*i as f64),
                    other => {
                        Err(format!("`{key}` must hold numbers, got {}", other.type_str()).into())
                    }
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(other) => {
                Err(format!("`{key}` must be an array, got {}", other.type_str()).into())
            }
        }
    };
    let d = match kind.as_str() {
        "uniform" => Distribution::Uniform {
            low: num(&f, "low")?,
            high: num(&f, "high")?,
        },
        "loguniform" => Distribution::LogUniform {
            low: num(&f, "low")?,
            high: num(&f, "high")?,
        },
        "normal" => Distribution::Normal {
            mean: num(&f, "mean")?,
            sd: num(&f, "sd")?,
        },
        "lognormal" => Distribution::LogNormal {
            mu: num(&f, "mu")?,
            sigma: num(&f, "sigma")?,
        },
        "truncnormal" => Distribution::TruncNormal {
            mean: num(&f, "mean")?,
            sd: num(&f, "sd")?,
            low: num(&f, "low")?,
            high: num(&f, "high")?,
        },
        _ => Distribution::Choice {
            values: list(&f, "values")?
                .ok_or_else(|| "dist = \"choice\" needs `values`".to_string())?,
            weights: list(&f, "weights")?,
        },
    };
    d.validate()?;
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(src: &str) -> IndexMap<String, Distribution> {
        #[derive(Deserialize)]
        struct F {
            parameters: IndexMap<String, Distribution>,
        }
        toml::from_str::<F>(src).expect("parses").parameters
    }

    #[test]
    fn parses_every_form_in_file_order() {
        let p = parse(
            r#"
[parameters]
k = 0.05
D = { dist = "uniform", low = 0.1, high = 0.5 }
r = { dist = "loguniform", low = 1e-3, high = 1e-1 }
a = { dist = "normal", mean = 1.0, sd = 0.2 }
b = { dist = "lognormal", mu = 0.0, sigma = 0.3 }
c = { dist = "truncnormal", mean = 1.0, sd = 0.5, low = 0.0, high = 2.0 }
s = { dist = "choice", values = [1, 2, 3] }
"#,
        );
        let names: Vec<_> = p.keys().cloned().collect();
        assert_eq!(names, ["k", "D", "r", "a", "b", "c", "s"]);
        assert_eq!(p["k"], Distribution::Fixed(0.05));
        assert_eq!(
            p["D"],
            Distribution::Uniform {
                low: 0.1,
                high: 0.5
            }
        );
        assert_eq!(p["s"].from_unit(0.99), 3.0);
    }

    #[test]
    fn bad_distributions_name_the_argument() {
        #[derive(Deserialize, Debug)]
        #[allow(dead_code)]
        struct F {
            parameters: IndexMap<String, Distribution>,
        }
        let e = toml::from_str::<F>(
            "[parameters]\nD = { dist = \"uniform\", low = 1.0, high = 0.5 }\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("`low` (1) must be less than `high` (0.5)"),
            "{e}"
        );
        assert!(e.contains("line 2"), "{e}");
        let e = toml::from_str::<F>("[parameters]\nD = { dist = \"gamma\", k = 1 }\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown distribution `gamma`"), "{e}");
        let e = toml::from_str::<F>(
            "[parameters]\nD = { dist = \"normal\", mean = 1, sd = 1, low = 0 }\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("unknown key `low`"), "{e}");
    }
}
