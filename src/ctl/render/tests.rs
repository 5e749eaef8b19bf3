use serde_json::json;

use super::*;

#[test]
fn times_read_as_dates_and_times_in_utc() {
    let cases = [
        (json!("2026-12-02T14:26:26Z"), "2026-12-02 14:26:26 UTC"),
        (json!("2026-12-02T14:26:26.987Z"), "2026-12-02 14:26:26 UTC"),
        (json!("2026-12-02T15:26:26+01:00"), "2026-12-02 14:26:26 UTC"),
        (json!(1_796_221_586), "2026-12-02 14:26:26 UTC"), // a server from before RFC 3339
        (json!(0), "-"),
        (json!(null), "-"),
        (json!("yesterday"), "yesterday"),
    ];
    for (value, expected) in cases {
        assert_eq!(time(&value), expected, "{value}");
    }
}

#[test]
fn uptimes_leave_out_leading_zero_units() {
    assert_eq!(uptime(0), "0s");
    assert_eq!(uptime(59), "59s");
    assert_eq!(uptime(3600), "1h 0m 0s");
    assert_eq!(uptime(93_784), "1d 2h 3m 4s");
}

#[test]
fn status_lists_each_pools_regions_with_the_pool_named_once() {
    let answer = json!({
        "version": "0.1.0", "identity": null, "uptime_secs": 125, "generation": 4,
        "zones": [{"origin": "lb.test.", "records": 7}, {"origin": "example.test.", "records": 30}],
        "pools": [{
            "name": "www.lb.test.", "policy": "priority", "ttl_secs": 30, "failover_ttl_in_force": true,
            "all_down": false,
            "answer_set": [
                {"region": "a", "can_serve": true, "endpoints": ["192.0.2.1", "192.0.2.2"], "failed_over_to": "b"},
                {"region": "b", "can_serve": false, "endpoints": []}
            ]
        }]
    });
    let expected = "\
version     0.1.0
identity    -
uptime      2m 5s
generation  4
zones       lb.test. (7 records)
            example.test. (30 records)

POOL          POLICY    TTL  REGION  CAN-SERVE  ENDPOINTS
www.lb.test.  priority   30  a       yes        192.0.2.1, 192.0.2.2 (failed over to b)
                             b       no         -

www.lb.test.: answers carry the failover TTL
";
    assert_eq!(status(&answer), expected);
}

#[test]
fn regions_show_one_row_per_endpoint_with_rtts_in_milliseconds() {
    let region = json!({
        "name": "a", "down": true, "endpoints": [
            {"address": "192.0.2.1", "weight": 1, "backup": false, "health": "up", "manual": "drain",
             "servable": false, "rtt": {"avg_ms": 1.234, "p95_ms": 12.0}},
            {"address": "2001:db8::1", "weight": 100, "backup": true, "health": "down", "manual": "auto",
             "servable": false, "rtt": {"avg_ms": null, "p95_ms": null}}
        ]
    });
    let expected = "\
REGION  ENDPOINT              WEIGHT  HEALTH  MANUAL  SERVABLE  RTT-AVG  RTT-P95
a       192.0.2.1                  1  up      drain   no          1.2ms   12.0ms
        2001:db8::1 (backup)     100  down    auto    no              -        -

region a is down: fewer servable endpoints than its min_healthy
";
    assert_eq!(regions(&region), expected, "one region, as GET /regions/{{region}} gives it");
    assert_eq!(regions(&json!([region])), expected, "a list of them");
    assert_eq!(regions(&json!([])), "no regions\n");
}

#[test]
fn a_ramping_weight_shows_where_it_is_where_it_goes_and_by_when() {
    let region = json!({
        "name": "a", "down": false, "endpoints": [
            {"address": "192.0.2.1", "weight": 10, "effective_weight": 3.0, "backup": false, "health": "up",
             "manual": "auto", "servable": true, "rtt": {},
             "ramp": {"to": 10, "until": "2026-12-02T14:32:05.250Z", "weight_ramp": {"from": 3.0}}},
            {"address": "192.0.2.2", "weight": 1, "effective_weight": 0.55, "backup": false, "health": "up",
             "manual": "auto", "servable": true, "rtt": {},
             "ramp": {"to": 1, "until": "2026-12-02T14:33:00Z", "slow_start_until": "2026-12-02T14:33:00Z"}},
            {"address": "192.0.2.3", "weight": 4, "effective_weight": 4.0, "backup": false, "health": "up",
             "manual": "auto", "servable": true, "rtt": {}, "ramp": null}
        ]
    });
    let expected = "\
REGION  ENDPOINT                    WEIGHT  HEALTH  MANUAL  SERVABLE  RTT-AVG  RTT-P95
a       192.0.2.1   3 → 10 by 14:32:05 UTC  up      auto    yes             -        -
        192.0.2.2  0.6 → 1 by 14:33:00 UTC  up      auto    yes             -        -
        192.0.2.3                        4  up      auto    yes             -        -

a/192.0.2.2: slow start until 2026-12-02 14:33:00 UTC
";
    assert_eq!(regions(&region), expected);
}

#[test]
fn failovers_show_three_sections_each_possibly_empty() {
    let status = json!({
        "manual": [{"pool": "www.lb.test.", "from_region": "a", "to_region": "b", "since": "2023-11-14T22:13:20Z"}],
        "automatic": [],
        "history": [{"at": "2023-11-14T22:13:20Z", "pool": "www.lb.test.", "action": "trigger", "from_region": "a",
                     "to_region": "b"}]
    });
    let expected = "\
manual failovers:
POOL          FROM  TO  SINCE
www.lb.test.  a     b   2023-11-14 22:13:20 UTC

automatic failovers (regions health has taken out): none

manual failover history:
TIME                     POOL          ACTION   FROM  TO
2023-11-14 22:13:20 UTC  www.lb.test.  trigger  a     b
";
    assert_eq!(failovers(&status), expected);
}

#[test]
fn checks_and_history_are_tables_or_say_there_is_nothing() {
    let outcomes = json!([
        {"region": "a", "endpoint": "192.0.2.1", "result": "failed", "rtt_ms": 0.41, "detail": "HTTP 503"},
        {"region": "a", "endpoint": "192.0.2.2", "result": "up", "rtt_ms": 12.26, "detail": "HTTP 200"},
        {"region": "a", "endpoint": "192.0.2.3", "result": "unchecked", "rtt_ms": 0.0, "detail": "no health check configured"}
    ]);
    let expected = "\
ENDPOINT   RESULT        RTT  DETAIL
192.0.2.1  failed      0.4ms  HTTP 503
192.0.2.2  up         12.3ms  HTTP 200
192.0.2.3  unchecked       -  no health check configured
";
    assert_eq!(checks(&outcomes), expected);
    assert_eq!(checks(&json!([])), "nothing probed: no endpoint of the region has a check\n");

    let events = json!([{"region": "a", "endpoint": "192.0.2.1", "at": "2000-02-29T00:00:00.250Z", "from": "up", "to": "down",
                         "detail": "connection refused"}]);
    let expected = "\
TIME                     REGION  ENDPOINT   FROM  TO    DETAIL
2000-02-29 00:00:00 UTC  a       192.0.2.1  up    down  connection refused
";
    assert_eq!(history(&events), expected);
    assert_eq!(history(&json!([])), "no health transitions\n");
}

#[test]
fn analytics_show_shares_as_percentages_and_the_top_ten_countries() {
    let countries: Vec<_> = (0..12)
        .map(|i| json!({"code": format!("C{i}"), "answers": 12 - i, "share": f64::from(12 - i) / 78.0}))
        .collect();
    let answer = json!({
        "window": "15m",
        "pools": [
            {"pool": "www.example.com.", "answers": 78,
             "regions": [{"name": "eu", "answers": 60, "share": 0.769_23}, {"name": "us", "answers": 18, "share": 0.230_77}],
             "endpoints": [{"name": "eu/192.0.2.1", "answers": 60, "share": 0.769_23}],
             "countries": countries,
             "continents": [{"code": "EU", "answers": 78, "share": 1.0}],
             "rcodes": [{"rcode": "NOERROR", "count": 78, "rate": 1.0}]},
            {"pool": "idle.example.com.", "answers": 0, "regions": [], "endpoints": [], "countries": [],
             "continents": [], "rcodes": []}
        ],
        "probes": [{"region": "eu", "endpoint": "192.0.2.1", "avg_ms": 1.5, "min_ms": 0.24, "max_ms": 4.0,
                    "p95_ms": 3.76}]
    });
    let expected = "\
www.example.com.: 78 answers in the last 15m

REGION  ANSWERS  SHARE
eu           60  76.9%
us           18  23.1%

ENDPOINT      ANSWERS  SHARE
eu/192.0.2.1       60  76.9%

COUNTRY  ANSWERS  SHARE
C0            12  15.4%
C1            11  14.1%
C2            10  12.8%
C3             9  11.5%
C4             8  10.3%
C5             7   9.0%
C6             6   7.7%
C7             5   6.4%
C8             4   5.1%
C9             3   3.8%
(and 2 more)

CONTINENT  ANSWERS   SHARE
EU              78  100.0%

RCODE    COUNT    RATE
NOERROR     78  100.0%

idle.example.com.: no answers in the last 15m

probe round-trip times:
REGION  ENDPOINT     AVG    MIN    MAX    P95
eu      192.0.2.1  1.5ms  0.2ms  4.0ms  3.8ms
";
    assert_eq!(analytics(&answer), expected);
    assert_eq!(
        analytics(&json!({"window": "1h", "pools": [], "probes": []})),
        "no pools (window 1h)\n\nprobe round-trip times: none\n"
    );
}

#[test]
fn missing_fields_print_as_dashes() {
    let text = status(&json!({"pools": [{"name": "p."}]}));
    assert!(text.starts_with("version     -\nidentity    -\nuptime      -\ngeneration  -\nzones       -\n"), "{text}");
    assert!(
        text.ends_with("POOL  POLICY  TTL  REGION  CAN-SERVE  ENDPOINTS\np.    -         -  -       -          -\n"),
        "{text}"
    );
    assert_eq!(applied("x", &json!(null)), "x (generation -)\n");
}

#[test]
fn changes_list_as_a_table_and_as_a_diff_against_the_file() {
    let answer = json!([
        {"id": 3, "at": "2026-12-02T14:26:26Z", "token": "ops", "summary": "weight of a/192.0.2.1 set to 0",
         "overrides": [{"setting": "region a endpoint 192.0.2.1 weight", "file": 1, "change": 0}]},
        {"id": 12, "at": null, "token": null, "summary": "region c added (1 endpoint)",
         "overrides": [{"setting": "region c", "file": null, "change": {"name": "c"}}]},
        {"id": 13, "at": "2026-12-02T14:30:00Z", "token": "ci", "summary": "region spare removed",
         "overrides": [{"setting": "region spare", "file": {"name": "spare"}, "change": null}]}
    ]);
    assert_eq!(
        changes(&answer),
        "ID  TIME                     TOKEN  SUMMARY\n\
         \x203  2026-12-02 14:26:26 UTC  ops    weight of a/192.0.2.1 set to 0\n\
         12  -                        -      region c added (1 endpoint)\n\
         13  2026-12-02 14:30:00 UTC  ci     region spare removed\n"
    );
    assert_eq!(
        changes_diff(&answer),
        "--- the configuration file\n+++ with the API changes in force\n\
         @@ change 3 at 2026-12-02 14:26:26 UTC by ops: weight of a/192.0.2.1 set to 0\n\
         -region a endpoint 192.0.2.1 weight = 1\n\
         +region a endpoint 192.0.2.1 weight = 0\n\
         @@ change 12 at - by -: region c added (1 endpoint)\n\
         +region c = {\"name\":\"c\"}\n\
         @@ change 13 at 2026-12-02 14:30:00 UTC by ci: region spare removed\n\
         -region spare = {\"name\":\"spare\"}\n"
    );
    let none = json!([]);
    assert!(changes(&none).starts_with("no API changes in force"));
    assert!(changes_diff(&none).starts_with("no API changes in force"));
}

#[test]
fn regions_show_loads_and_shedding_when_loads_are_reported() {
    let region = json!({
        "name": "a", "down": false, "endpoints": [
            {"address": "192.0.2.1", "weight": 1, "backup": false, "health": "up", "manual": "auto",
             "servable": true, "rtt": {"avg_ms": null, "p95_ms": null},
             "load": {"smoothed": 0.95, "last": 0.97, "source": "push", "at": "2026-01-01T00:00:00.000Z",
                      "expires_in_secs": 20.0, "error": null}, "shed_in": ["www.lb.test."]},
            {"address": "192.0.2.2", "weight": 1, "backup": false, "health": "up", "manual": "auto",
             "servable": true, "rtt": {"avg_ms": null, "p95_ms": null},
             "load": {"smoothed": null, "last": 0.2, "source": "probe", "at": "2026-01-01T00:00:00.000Z",
                      "expires_in_secs": 0.0, "error": "the answer has no header x-load"}, "shed_in": []},
            {"address": "192.0.2.3", "weight": 1, "backup": false, "health": "up", "manual": "auto",
             "servable": true, "rtt": {"avg_ms": null, "p95_ms": null}, "load": null, "shed_in": []}
        ]
    });
    let expected = "\
REGION  ENDPOINT   WEIGHT  HEALTH  MANUAL  SERVABLE  RTT-AVG  RTT-P95  LOAD
a       192.0.2.1       1  up      auto    yes             -        -  0.95 (push)
        192.0.2.2       1  up      auto    yes             -        -  aged out
        192.0.2.3       1  up      auto    yes             -        -  -

a/192.0.2.1 is shed by www.lb.test.: over its shed.high
load of a/192.0.2.2 not read: the answer has no header x-load
";
    assert_eq!(regions(&region), expected);
}
