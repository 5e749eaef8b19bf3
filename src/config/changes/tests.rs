use std::net::IpAddr;
use std::path::Path;

use serde_json::json;

use super::*;
use crate::config::overlay::StrategyChange;

const TOML: &str = r#"
    zones_dir = "zones"
    [[region]]
    name = "a"
    endpoints = [ { address = "192.0.2.1" }, { address = "192.0.2.2", weight = 3 } ]
    [[region]]
    name = "b"
    state = "force_up"
    endpoints = [ { address = "198.51.100.1" } ]
    [[region]]
    name = "spare"
    endpoints = [ { address = "203.0.113.1" } ]
    [[pool]]
    name = "www.example.com."
    policy = "weighted"
    regions = ["a", "b"]
"#;

fn source(toml: &str) -> Source {
    Source::from_toml(toml, Path::new(""), "test").unwrap()
}

fn region(name: &str, address: &str) -> FileRegion {
    serde_json::from_value(json!({ "name": name, "endpoints": [{ "address": address }] })).unwrap()
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn strategy(regions: &[&str]) -> StrategyChange {
    StrategyChange {
        pool: "www.example.com".into(),
        strategy: "priority".into(),
        parameters: StrategyParameters {
            regions: Some(regions.iter().map(|r| (*r).to_owned()).collect()),
            max_answers: Some(1),
            ..Default::default()
        },
        stamp: Stamp::default(),
    }
}

fn ids(overlay: &Overlay) -> Vec<u64> {
    overlay.in_force(&source(TOML).file).iter().map(|c| c.stamp.id).collect()
}

#[test]
fn a_change_stamps_the_settings_it_made_and_a_later_one_takes_them_over() {
    let file = source(TOML).file;
    let mut overlay = Overlay::default();
    overlay.set_weight(&file, "a", ip("192.0.2.1"), 0).unwrap();
    let stamp = overlay.stamp_new(1, 1_700_000_000, "ops").expect("a setting was made");
    assert_eq!(
        stamp,
        Stamp { id: 1, at: 1_700_000_000, token: "ops".into(), summary: "weight of a/192.0.2.1 set to 0".into() }
    );
    overlay.set_drained(&file, "a", ip("192.0.2.2"), true).unwrap();
    assert_eq!(overlay.stamp_new(2, 1, "ci").unwrap().summary, "a/192.0.2.2 drained");
    overlay.set_weight(&file, "a", ip("192.0.2.1"), 5).unwrap();
    overlay.stamp_new(3, 2, "ops").unwrap();
    assert_eq!(ids(&overlay), [2, 3], "the weight's entry is change 3's now; change 1 is no longer in force");
    overlay.set_drained(&file, "a", ip("192.0.2.2"), false).unwrap();
    assert_eq!(overlay.stamp_new(4, 3, "ops"), None, "an undrain gives the endpoint back to the file: no setting");
    assert_eq!(ids(&overlay), [3]);
}

#[test]
fn a_region_replaced_is_one_change_listed_and_reverted_whole() {
    let file = source(TOML).file;
    let mut overlay = Overlay::default();
    overlay.remove_region(&file, "spare").unwrap();
    assert_eq!(overlay.stamp_new(1, 5, "ops").unwrap().summary, "region spare removed");
    overlay.add_region(&file, region("spare", "192.0.2.77")).unwrap();
    let stamp = overlay.stamp_new(2, 6, "ops").unwrap();
    assert_eq!(stamp.summary, "region spare replaced (1 endpoint)");
    assert_eq!(ids(&overlay), [2], "the removal is the replacement's own now");
    let listed = overlay.in_force(&file);
    assert_eq!(listed.len(), 1);
    let overrides = &listed[0].overrides;
    assert_eq!(overrides.len(), 1, "{overrides:?}");
    assert_eq!(overrides[0].setting, "region spare");
    assert_eq!(overrides[0].file.as_ref().unwrap()["endpoints"][0]["address"], "203.0.113.1");
    assert_eq!(overrides[0].change["endpoints"][0]["address"], "192.0.2.77");
    overlay.revert(2).unwrap();
    assert_eq!(overlay, Overlay::default(), "both its entries are gone");
    let error = overlay.revert(2).unwrap_err();
    assert!(matches!(&error, Refusal::NotFound { field, .. } if field == "id"), "{error:?}");
}

#[test]
fn settings_saved_before_ids_are_numbered_after_the_highest_and_round_trip() {
    let saved = json!({
        "regions_removed": ["spare", "b"],
        "regions_added": [{ "name": "spare", "endpoints": [{ "address": "192.0.2.77" }] }],
        "weights": [
            { "region": "a", "endpoint": "192.0.2.1", "weight": 0 },
            { "region": "a", "endpoint": "192.0.2.2", "weight": 2,
              "stamp": { "id": 7, "at": 9, "token": "ops", "summary": "weight of a/192.0.2.2 set to 2" } }
        ],
        "failovers": [{ "pool": "www.example.com.", "from_region": "a", "to_region": "b" }]
    });
    let mut overlay: Overlay = serde_json::from_value(saved).unwrap();
    let mut last = 0;
    overlay.number_unnumbered(&mut last);
    assert_eq!(last, 11, "after the 7 already given: the pair, b, one weight, the failover");
    let listed = overlay.in_force(&source(TOML).file);
    let summaries: Vec<(u64, &str)> = listed.iter().map(|c| (c.stamp.id, c.stamp.summary.as_str())).collect();
    assert_eq!(
        summaries,
        [
            (7, "weight of a/192.0.2.2 set to 2"),
            (8, "region spare replaced (1 endpoint)"),
            (9, "region b removed"),
            (10, "weight of a/192.0.2.1 set to 0"),
            (11, "clients of a in www.example.com. failed over to b"),
        ]
    );
    assert!(listed.iter().filter(|c| c.stamp.id != 7).all(|c| c.stamp.at == 0 && c.stamp.token.is_empty()));
    let text = serde_json::to_string(&overlay).unwrap();
    assert!(text.contains(r#""name":"spare","location":null"#), "a region keeps its own fields: {text}");
    let back: Overlay = serde_json::from_str(&text).unwrap();
    assert_eq!(back, overlay);
    let mut again = back;
    again.number_unnumbered(&mut last);
    assert_eq!((again, last), (overlay, 11), "numbered once");
}

#[test]
fn a_saved_region_with_an_unknown_field_is_still_refused() {
    let saved = json!({ "regions_added": [{ "name": "c", "endpoints": [], "colour": "red" }] });
    let error = serde_json::from_value::<Overlay>(saved).unwrap_err().to_string();
    assert!(error.contains("colour"), "{error}");
    let saved = json!({ "regions_removed": [{ "name": "c", "colour": "red" }] });
    assert!(serde_json::from_value::<Overlay>(saved).is_err());
}

#[test]
fn each_override_says_what_the_file_says_and_what_the_change_says() {
    let file = source(TOML).file;
    let mut overlay = Overlay::default();
    overlay.set_weight(&file, "a", ip("192.0.2.1"), 0).unwrap();
    overlay.set_weight(&file, "a", ip("192.0.2.2"), 9).unwrap();
    overlay.set_drained(&file, "b", ip("198.51.100.1"), true).unwrap();
    overlay.set_strategy(&file, strategy(&["b", "a"])).unwrap();
    overlay.add_region(&file, region("c", "192.0.2.9")).unwrap();
    overlay.set_weight(&file, "c", ip("192.0.2.9"), 4).unwrap();
    overlay.remove_region(&file, "spare").unwrap();
    let failover = ManualFailover {
        pool: "www.example.com".into(),
        from_region: "a".into(),
        to_region: "b".into(),
        since: 0,
        stamp: Stamp::default(),
    };
    overlay.trigger_failover(&file, failover).unwrap();
    overlay.number_unnumbered(&mut 0);
    let all: Vec<(String, Option<Value>, Value)> =
        overlay.in_force(&file).into_iter().flat_map(|c| c.overrides).map(|o| (o.setting, o.file, o.change)).collect();
    let find = |setting: &str| all.iter().find(|o| o.0 == setting).unwrap_or_else(|| panic!("{setting}: {all:?}"));
    assert_eq!(find("region a endpoint 192.0.2.1 weight").1, Some(json!(1)), "the default the file leaves");
    assert_eq!(find("region a endpoint 192.0.2.2 weight").1, Some(json!(3)));
    assert_eq!(find("region b endpoint 198.51.100.1 state").1, Some(json!("force_up")), "the region's state");
    assert_eq!(find("region b endpoint 198.51.100.1 state").2, json!("drain"));
    assert_eq!(find("pool www.example.com. policy").1, Some(json!("weighted")));
    assert_eq!(find("pool www.example.com. regions").1, Some(json!(["a", "b"])));
    assert_eq!(find("pool www.example.com. regions").2, json!(["b", "a"]));
    assert_eq!(find("pool www.example.com. max_answers").1, Some(Value::Null), "the file does not set it");
    assert_eq!(find("region c").1, None, "the file has no region c");
    assert_eq!(find("region c endpoint 192.0.2.9 weight").1, None);
    assert_eq!(find("region spare").2, Value::Null, "removed");
    assert_eq!(find("pool www.example.com. failover of region a").2, json!("b"));
}

#[test]
fn a_file_edit_under_a_change_is_found_and_other_edits_are_not() {
    let before = source(TOML);
    let mut overlay = Overlay::default();
    overlay.set_weight(&before.file, "a", ip("192.0.2.1"), 0).unwrap();
    overlay.set_strategy(&before.file, strategy(&["a", "b"])).unwrap();
    overlay.number_unnumbered(&mut 0);
    assert!(overlay.shadowed(&before.file, &before.file).is_empty());

    let edited = TOML
        .replace(r#"{ address = "192.0.2.1" }"#, r#"{ address = "192.0.2.1", weight = 5 }"#)
        .replace(r#"weight = 3 }"#, r#"weight = 4 }"#)
        .replace(r#"regions = ["a", "b"]"#, "regions = [\"a\", \"b\"]\nmax_answers = 2");
    let shadowed = overlay.shadowed(&before.file, &source(&edited).file);
    let found: Vec<(u64, &str, String, String)> =
        shadowed.iter().map(|s| (s.stamp.id, s.setting.as_str(), s.before.to_string(), s.after.to_string())).collect();
    assert_eq!(
        found,
        [
            (1, "region a endpoint 192.0.2.1 weight", "1".into(), "5".into()),
            (2, "pool www.example.com. max_answers", "null".into(), "2".into()),
        ],
        "192.0.2.2's weight is no change's: its edit shows"
    );
    assert_eq!(shadowed[0].change, json!(0));
    // An endpoint the file drops is not shadowed: the change no longer applies (and is left
    // out with a warning of its own).
    let dropped = TOML.replace(r#"{ address = "192.0.2.1" }, "#, "");
    assert!(overlay.shadowed(&before.file, &source(&dropped).file).is_empty());
}

#[test]
fn reverting_what_other_changes_need_is_refused_naming_them() {
    let source = source(TOML);
    let mut overlay = Overlay::default();
    overlay.add_region(&source.file, region("c", "192.0.2.9")).unwrap();
    overlay.stamp_new(1, 0, "ops").unwrap();
    overlay.set_strategy(&source.file, strategy(&["c", "a"])).unwrap();
    overlay.stamp_new(2, 0, "ops").unwrap();
    overlay.set_weight(&source.file, "a", ip("192.0.2.1"), 0).unwrap();
    overlay.stamp_new(3, 0, "ops").unwrap();
    match source.revert(&overlay, 1) {
        Err(Refusal::Conflict { field, message }) => {
            assert_eq!(field, "id");
            assert!(message.starts_with("reverting change 1 (region c added (1 endpoint)) would make"), "{message}");
            assert!(message.contains(r#""c""#), "the problem names the region: {message}");
            assert!(
                message.ends_with(
                    "revert first what depends on it: change 2 (strategy of www.example.com. set to \
                                   priority (regions c, a; max_answers 1))"
                ),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    let reverted = source.revert(&overlay, 2).expect("the strategy alone can go");
    assert_eq!(ids(&reverted), [1, 3]);
    assert!(matches!(source.revert(&overlay, 99), Err(Refusal::NotFound { .. })));
}

#[test]
fn every_strategy_parameter_reads_the_pools_setting_in_the_file() {
    let toml = r#"
        zones_dir = "zones"
        [[pool]]
        name = "p."
        policy = "latency"
        regions = ["a"]
        max_answers = 1
        hash_prefix_v4 = 24
        hash_prefix_v6 = 56
        latency_margin_pct = 10
        latency_margin = "5ms"
        failback_delay = "1m"
        fallback_location = { lat = 1.0, lon = 2.0 }
        spill = "next"
        spill_regions = 1
        when_all_down = "servfail"
    "#;
    let file = source(toml).file;
    for key in StrategyParameters::FIELDS {
        assert!(!pool_setting(&file.pool[0], key).is_null(), "{key}");
    }
}
