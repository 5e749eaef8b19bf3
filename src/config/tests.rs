use std::path::Path;

use super::*;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::from_toml(text, Path::new("/etc/meridian"), "test.toml")
}

fn problems(text: &str) -> Vec<Problem> {
    match parse(text) {
        Err(ConfigError::Invalid { problems, .. }) => problems,
        other => panic!("expected validation problems, got {other:?}"),
    }
}

#[test]
fn the_embedded_default_parses_and_listens_on_loopback_port_1053() {
    let config = Config::embedded_default().expect("default.toml is valid");
    let listen: Vec<String> = config.server.listen.iter().map(ToString::to_string).collect();
    assert_eq!(listen, ["127.0.0.1:1053", "[::1]:1053"]);
    assert!(matches!(&config.zones[..], [ZoneSource::Dir { path, .. }] if path == Path::new("zones")));
    assert_eq!(config.server.max_udp_payload, 1232);
}

#[test]
fn relative_zone_paths_resolve_against_the_config_directory() {
    let config =
        parse("[[zone]]\nfile = \"zones/a.zone\"\n[[zone]]\nfile = \"/abs/b.zone\"\norigin = \"b.test\"\n").unwrap();
    let paths: Vec<&Path> = config
        .zones
        .iter()
        .map(|z| match z {
            ZoneSource::File { path, .. } => path.as_path(),
            ZoneSource::Dir { path, .. } => path.as_path(),
        })
        .collect();
    assert_eq!(paths, [Path::new("/etc/meridian/zones/a.zone"), Path::new("/abs/b.zone")]);
    let ZoneSource::File { origin: Some(origin), .. } = &config.zones[1] else { panic!("origin") };
    assert!(origin.is_fqdn(), "origins are made absolute");
}

#[test]
fn every_problem_is_reported_at_once_with_its_path() {
    let found = problems(
        "[server]\nlisten = [\"nope\", \"127.0.0.1:53\", \"127.0.0.1:53\"]\nidentity = \"\"\nmax_udp_payload = 70000\n\
         tcp_idle_timeout_secs = 0\n[[zone]]\norigin = \"bad..name\"\n",
    );
    let at: Vec<&str> = found.iter().map(|p| p.at.as_str()).collect();
    assert_eq!(
        at,
        [
            "server.listen[0]",
            "server.listen[2]",
            "server.identity",
            "server.max_udp_payload",
            "server.tcp_idle_timeout_secs",
            "zone[0].origin",
            "zone[0].file",
        ]
    );
    assert!(found[0].message.contains("\"nope\""), "the offending value is named");
}

#[test]
fn tcp_limits_default_and_bad_values_name_their_key() {
    let tcp = parse("zones_dir = \"z\"\n").unwrap().server.tcp;
    assert_eq!((tcp.max_connections, tcp.max_connections_per_client), (1_000, 100));
    assert_eq!((tcp.idle_timeout, tcp.query_timeout), (Duration::from_secs(10), Duration::from_secs(5)));
    // A per-client limit left unset follows a smaller total.
    let tcp = parse("zones_dir = \"z\"\n[server]\ntcp_max_connections = 20\n").unwrap().server.tcp;
    assert_eq!((tcp.max_connections, tcp.max_connections_per_client), (20, 20));
    let found = problems("zones_dir = \"z\"\n[server]\ntcp_max_connections = 0\ntcp_query_timeout_secs = 0\n");
    let at: Vec<&str> = found.iter().map(|p| p.at.as_str()).collect();
    assert_eq!(at, ["server.tcp_max_connections", "server.tcp_query_timeout_secs"]);
    let found =
        problems("zones_dir = \"z\"\n[server]\ntcp_max_connections = 10\ntcp_max_connections_per_client = 11\n");
    assert_eq!(
        found,
        [Problem::new("server.tcp_max_connections_per_client", "11 is above server.tcp_max_connections (10)")]
    );
}

#[test]
fn unknown_keys_are_errors_not_silently_ignored() {
    let err = parse("[server]\nlisten = [\"127.0.0.1:53\"]\nidentiy = \"x\"\n").unwrap_err();
    assert!(err.to_string().contains("unknown field `identiy`"), "{err}");
}

#[test]
fn a_configuration_without_zones_is_invalid() {
    let found = problems("[server]\n");
    assert_eq!(found, [Problem::new("zone", "no zones configured: add [[zone]] file = \"...\" or zones_dir")]);
}

#[test]
fn workers_default_to_the_cpu_count_the_edge_passes_in() {
    let cases = [("", None, 1), ("", Some(8), 8), ("", Some(1000), 256), ("[server]\nworkers = 3\n", Some(8), 3)];
    for (server, cpus, workers) in cases {
        let mut source =
            super::Source::from_toml(&format!("zones_dir = \"z\"\n{server}"), Path::new(""), "test").unwrap();
        if let Some(cpus) = cpus {
            source.set_cpus(cpus);
        }
        assert_eq!(source.validate().unwrap().server.workers, workers, "{server:?} on {cpus:?} CPUs");
    }
}

#[test]
fn listen_flag_replaces_the_configured_addresses() {
    let mut source = super::Source::from_toml("zones_dir = \"z\"\n", Path::new(""), "test").unwrap();
    source.set_listen(&["127.0.0.1:0".into(), "[::1]:5300".into()]);
    assert_eq!(source.validate().unwrap().server.listen.len(), 2);
    source.set_listen(&["localhost".into()]);
    assert!(source.validate().unwrap_err().to_string().contains("server.listen[0]"));
}

#[test]
fn a_zone_table_may_name_a_directory_instead_of_a_file() {
    let config = parse("[[zone]]\nzones_dir = \"zones\"\n").unwrap();
    assert!(
        matches!(&config.zones[..], [ZoneSource::Dir { at, path }] if at == "zone[0].zones_dir" && path == Path::new("/etc/meridian/zones"))
    );
    let found = problems("[[zone]]\nfile = \"a.zone\"\nzones_dir = \"zones\"\n");
    assert_eq!(found, [Problem::new("zone[0]", "give either file or zones_dir, not both")]);
}

const REGION: &str = "[[region]]\nname = \"eu\"\nlocation = { lat = 53.3, lon = -6.3 }\ncountries = [\"IE\"]\n\
                      continents = [\"EU\"]\nendpoints = [ { address = \"192.0.2.1\", weight = 3 } ]\n";

#[test]
fn regions_and_pools_validate_into_indexes() {
    let config = parse(&format!(
        "zones_dir = \"z\"\n[geoip]\ndatabase = \"geo.mmdb\"\n{REGION}[[pool]]\nname = \"www.lb.test\"\npolicy = \"geo\"\n\
         regions = [\"eu\"]\noverrides = [ {{ subnet = \"198.51.100.7/24\", region = \"eu\" }} ]\n"
    ))
    .unwrap();
    assert_eq!(config.geoip.as_deref(), Some(Path::new("/etc/meridian/geo.mmdb")));
    let pool = &config.pools[0];
    assert_eq!(pool.name.to_string(), "www.lb.test.", "pool names are made absolute");
    assert_eq!((pool.policy, pool.regions.clone(), pool.ttl_secs, pool.max_answers), (PolicyKind::Geo, vec![0], 30, 8));
    assert_eq!(pool.overrides[0].0.to_string(), "198.51.100.0/24", "override subnets are truncated");
    assert_eq!(config.regions[0].endpoints[0].weight, 3);
}

#[test]
fn bad_regions_and_pools_are_named_with_their_paths_and_names() {
    let found = problems(
        "zones_dir = \"z\"\n[[region]]\nname = \"eu\"\nlocation = { lat = 95.0, lon = 0.0 }\ncountries = [\"XX\"]\n\
         continents = [\"EU\", \"MARS\"]\nendpoints = [ { address = \"300.1.1.1\" }, { address = \"192.0.2.1\", weight = -1 } ]\n\
         [[pool]]\nname = \"p.test.\"\npolicy = \"fastest\"\nregions = [\"eu\"]\n\
         [[pool]]\nname = \"q.test.\"\npolicy = \"geo\"\nregions = [\"eu\", \"us\"]\nttl = -5\nmax_answers = 0\n\
         overrides = [ { subnet = \"nonsense\", region = \"eu\" }, { subnet = \"10.0.0.0/8\", region = \"ap\" } ]\n",
    );
    let lines: Vec<String> = found.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            r#"region[0] "eu".location: lat 95 lon 0 is not a point on Earth: lat is -90 to 90, lon -180 to 180"#,
            r#"region[0] "eu".countries[0]: "XX" is not an ISO 3166-1 alpha-2 country code"#,
            r#"region[0] "eu".continents[1]: "MARS" is not one of AF, AN, AS, EU, NA, OC, SA"#,
            r#"region[0] "eu".endpoints[0].address: "300.1.1.1" is not an IP address"#,
            r#"region[0] "eu".endpoints[1] "192.0.2.1".weight: -1 is outside the range 0 to 1000000"#,
            r#"pool[0] "p.test.".policy: "fastest" is not one of geo, nearest, weighted, round_robin, random, hash, priority, latency, least_loaded"#,
            r#"pool[1] "q.test.".regions[1]: no region is named "us""#,
            r#"pool[1] "q.test.".overrides[0].subnet: "nonsense" is not a subnet such as 198.51.100.0/24"#,
            r#"pool[1] "q.test.".overrides[1].region: "ap" is not one of this pool's regions"#,
            r#"pool[1] "q.test.".ttl: -5 is outside the range 0 to 86400 seconds"#,
            r#"pool[1] "q.test.".max_answers: 0 is outside the range 1 to 16"#,
            r#"pool[1] "q.test.".policy: geo needs a geo database: add [geoip] database = "...""#,
        ],
    );
}

#[test]
fn names_that_break_their_rule_or_repeat_are_left_out_of_paths_or_point_at_the_first() {
    let found = problems(
        "zones_dir = \"z\"\n\
         [[region]]\nname = \"eu\"\nendpoints = [ { address = \"192.0.2.1\" }, { address = \"192.0.2.1\" } ]\n\
         [[region]]\nname = \"eu\"\nendpoints = [ { address = \"192.0.2.2\" } ]\n\
         [[region]]\nname = \"a b\"\nendpoints = [ { address = \"192.0.2.3\", weight = 2000000 } ]\n\
         [[pool]]\nname = \"www.test.\"\npolicy = \"priority\"\nregions = [\"eu\"]\n\
         [[pool]]\nname = \"WWW.test\"\npolicy = \"priority\"\nregions = [\"eu\"]\n\
         [[pool]]\nname = \"bad..name\"\npolicy = \"priority\"\nregions = [\"eu\"]\n",
    );
    let lines: Vec<String> = found.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines[0],
        r#"region[0] "eu".endpoints[1] "192.0.2.1".address: 192.0.2.1 is also endpoints[0]: a region lists an address once"#
    );
    assert_eq!(lines[1], r#"region[1] "eu".name: "eu" is also the name of region[0]: region names are unique"#);
    assert!(lines[2].starts_with(r#"region[2].name: "a b" is not a region name"#), "{}", lines[2]);
    assert_eq!(lines[3], r#"region[2].endpoints[0] "192.0.2.3".weight: 2000000 is outside the range 0 to 1000000"#);
    assert_eq!(lines[4], r#"pool[1] "WWW.test".name: "WWW.test" is also the name of pool[0]: pool names are unique"#);
    assert!(lines[5].starts_with(r#"pool[2].name: "bad..name" is not a domain name"#), "{}", lines[5]);
    assert_eq!(lines.len(), 6, "{lines:#?}");
}

/// A configuration with one region whose check has `fields`, for the messages of checks.
fn with_check(fields: &str) -> String {
    format!(
        "zones_dir = \"z\"\n[[region]]\nname = \"ap\"\nendpoints = [ {{ address = \"192.0.2.1\" }} ]\n\
         check = {{ type = \"http\", {fields} }}\n"
    )
}

/// The one problem of a check with `fields`, as `check-config` prints it.
fn check_problem(fields: &str) -> String {
    let found = problems(&with_check(fields));
    assert_eq!(found.len(), 1, "{fields}: {found:#?}");
    found[0].to_string()
}

#[test]
fn durations_are_quoted_as_written_with_the_forms_and_limit_they_may_take() {
    let cases = [
        (
            r#"interval = "2 seconds""#,
            r#"region[0] "ap".check.interval: "2 seconds" is not a duration: write a whole number and a unit (ms, s, m or h), such as "500ms", "5s", "2m" or "1h""#,
        ),
        (
            r#"interval = "1.5s""#,
            r#"region[0] "ap".check.interval: "1.5s" is not a duration: write a whole number and a unit (ms, s, m or h), such as "500ms", "5s", "2m" or "1h""#,
        ),
        ("hold_down = -5", r#"region[0] "ap".check.hold_down: -5 is negative: a duration is 0 seconds or more"#),
        (
            r#"hold_down = "169h""#,
            r#"region[0] "ap".check.hold_down: "169h" is longer than a week (168h), the longest a duration may be"#,
        ),
        (
            "flap_window = 9223372036854775807",
            r#"region[0] "ap".check.flap_window: 9223372036854775807 is longer than a week (168h), the longest a duration may be"#,
        ),
    ];
    for (fields, expected) in cases {
        assert_eq!(check_problem(fields), expected);
    }
}

#[test]
fn status_codes_are_quoted_as_written_with_the_rule() {
    let range_rule = r#"a range is FIRST-LAST, both 100 to 599 and FIRST no greater than LAST, such as "200-299""#;
    let cases = [
        (
            "expect = [999]",
            "region[0] \"ap\".check.expect[0]: 999 is not a status code: an HTTP status code is 100 to 599".to_owned(),
        ),
        (
            r#"expect = [200, "300-200"]"#,
            format!(r#"region[0] "ap".check.expect[1]: "300-200" is not a status code: {range_rule}"#),
        ),
        (
            r#"degraded_status = ["2xx"]"#,
            format!(r#"region[0] "ap".check.degraded_status[0]: "2xx" is not a status code: {range_rule}"#),
        ),
    ];
    for (fields, expected) in cases {
        assert_eq!(check_problem(fields), expected);
    }
}

#[test]
fn an_interval_or_timeout_out_of_bounds_states_the_limit_with_its_numbers() {
    let cases = [
        (
            r#"interval = "2s", timeout = "10s""#,
            r#"region[0] "ap".check.timeout: "10s" is longer than 8s (4 intervals of 2s), the longest a timeout may be"#,
        ),
        (
            r#"interval = "200ms", timeout = 5"#,
            r#"region[0] "ap".check.timeout: 5 is longer than 4s (4 × 1s, for an interval under 1s), the longest a timeout may be"#,
        ),
        (
            r#"interval = "10ms""#,
            r#"region[0] "ap".check.interval: "10ms" is shorter than 50ms, the shortest interval between probes"#,
        ),
        (
            r#"timeout = "0ms""#,
            r#"region[0] "ap".check.timeout: "0ms" leaves a probe no time: a timeout is longer than 0"#,
        ),
    ];
    for (fields, expected) in cases {
        assert_eq!(check_problem(fields), expected);
    }
    let config = parse(&with_check(r#"interval = "2s", timeout = "8s""#)).expect("8s is 4 intervals of 2s");
    assert_eq!(config.regions[0].endpoints[0].check.as_ref().map(|c| c.timeout), Some(Duration::from_secs(8)));
}

#[test]
fn numbers_out_of_range_state_the_range_with_its_unit() {
    let found = problems(
        "zones_dir = \"z\"\n[server]\ntcp_query_timeout_secs = 0\nmax_udp_payload = 100\nworkers = 0\n\
         [api]\nmax_body_bytes = 10\n[rrl]\nipv4_prefix = 33\n",
    );
    let lines: Vec<String> = found.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            "server.max_udp_payload: 100 is outside the range 512 to 4096 bytes",
            "server.tcp_query_timeout_secs: 0 is outside the range 1 to 300 seconds",
            "server.workers: 0 is outside the range 1 to 256",
            "api.max_body_bytes: 10 is outside the range 1024 to 16777216 bytes",
            "rrl.ipv4_prefix: 33 is outside the range 8 to 32 bits",
        ]
    );
}

#[test]
fn type_errors_name_what_the_setting_takes_not_rust_types() {
    let cases = [
        (
            "[[pool]]\nname = \"a.test.\"\npolicy = \"geo\"\nregions = []\nttl = \"30\"\n",
            r#"invalid type: string "30", expected an integer"#,
        ),
        (
            "[[region]]\nname = \"a\"\ncheck = { type = \"tcp\", interval = 2.5 }\n",
            r#"invalid type: floating point `2.5`, expected a duration: a whole number of seconds, or text such as "500ms", "5s", "2m" or "1h""#,
        ),
        (
            "[[region]]\nname = \"a\"\ncheck = { type = \"http\", expect = [true] }\n",
            r#"invalid type: boolean `true`, expected an HTTP status code such as 200, or a range such as "200-299""#,
        ),
        ("[[region]]\nname = \"a\"\ncheck = 5\n", "invalid type: integer `5`, expected a table"),
        ("[rrl]\nipv4_prefix = 300\n", "invalid value: integer `300`, expected a whole number from 0 to 255"),
        ("[rrl]\nrate = -1\n", "invalid value: integer `-1`, expected a whole number from 0 to 4294967295"),
        ("[server]\nlisten = \"127.0.0.1:53\"\n", r#"invalid type: string "127.0.0.1:53", expected an array"#),
    ];
    for (toml, expected) in cases {
        let error = parse(&format!("zones_dir = \"z\"\n{toml}")).unwrap_err().to_string();
        assert!(error.contains(expected), "{toml}: {error}");
        for rust in
            ["i64", "u64", "u32", "u8", "f64", "FileDuration", "FileStatus", "FileCheck", "untagged", "sequence"]
        {
            assert!(!error.contains(rust), "{toml}: {error}");
        }
    }
}

#[test]
fn no_message_shows_rust_debug_text() {
    let found = problems(
        "zones_dir = \"z\"\n[server]\nlisten = [\"x\"]\nidentity = \"\"\n[[zone]]\nfile = \"a\"\norigin = \"a..b\"\n\
         [[region]]\nname = \"r\"\nbias_km = 1e9\nmin_healthy = -1.0\nstate = \"off\"\n\
         endpoints = [ { address = \"192.0.2.1\", state = \"up\" } ]\n\
         check = { type = \"icmp\", port = 0, address = \"x\", path = \"h\", method = \"PUT\", initial = \"maybe\",\
         interval = \"1d\", timeout = -1, expect = [1, \"a-b\"], rise = 0, flap_limit = 16 }\n\
         [[pool]]\nname = \"p.test.\"\npolicy = \"weighted\"\nregions = [\"r\"]\nwhen_all_down = \"panic\"\n\
         spill = \"all\"\nlatency_margin = \"fast\"\n[api]\nlisten = \"nowhere\"\n[rrl]\nexempt = [\"x\"]\n",
    );
    assert!(found.len() >= 20, "{found:#?}");
    for problem in &found {
        let line = problem.to_string();
        for debug in ["Text(", "Code(", "Range(", "Secs(", "Some(", "..=", "{ ", "Duration"] {
            assert!(!line.contains(debug), "{line}");
        }
    }
}

#[test]
fn huge_durations_are_refused_not_overflowed() {
    for interval in ["\"9999999999999999h\"", "\"99999999999999999m\"", "9223372036854775807", "\"8d\""] {
        let found = problems(&format!(
            "zones_dir = \"z\"\n[[region]]\nname = \"r\"\ncheck = {{ type = \"tcp\", interval = {interval} }}\n\
             endpoints = [ {{ address = \"192.0.2.1\" }} ]\n"
        ));
        assert!(found.iter().any(|p| p.at == r#"region[0] "r".check.interval"#), "{interval}: {found:?}");
    }
}

#[test]
fn the_api_token_never_shows_in_errors_or_debug_output() {
    let broken = "zones_dir = \"z\"\n[api]\ntoken = \"s3cret-token\n";
    let error = Config::from_toml(broken, Path::new(""), "test").unwrap_err();
    // `main` prints the whole chain of sources: toml's own message must not be one of them.
    assert!(std::error::Error::source(&error).is_none());
    let error = error.to_string();
    assert!(!error.contains("s3cret"), "{error}");
    assert!(error.contains("not valid TOML"), "{error}");
    let good = "zones_dir = \"z\"\n[api]\ntoken = \"s3cret-token\"\n";
    let source = super::Source::from_toml(good, Path::new(""), "test").unwrap();
    assert!(!format!("{source:?}").contains("s3cret"));
    assert!(!format!("{:?}", source.validate().unwrap()).contains("s3cret"));
}

#[test]
fn api_tokens_may_be_named_beside_the_default_one() {
    let names = |text: &str| {
        let api = parse(text).unwrap().api.expect("[api]");
        api.tokens.into_iter().map(|t| (t.name, t.source, t.at)).collect::<Vec<_>>()
    };
    assert_eq!(
        names("zones_dir = \"z\"\n[api]\n"),
        [("default".into(), TokenSource::Env("MERIDIAN_API_TOKEN".into()), "api.token_env".into())],
        "no token configured: the environment's, as before"
    );
    let both = "zones_dir = \"z\"\n[api]\ntoken_file = \"/etc/t\"\n\
                [[api.token]]\nname = \"ops\"\nfile = \"/etc/ops\"\n[[api.token]]\nname = \"ci\"\nenv = \"CI_TOKEN\"\n";
    assert_eq!(
        names(both),
        [
            ("default".into(), TokenSource::File("/etc/t".into()), "api.token_file".into()),
            ("ops".into(), TokenSource::File("/etc/ops".into()), "api.token[0].file".into()),
            ("ci".into(), TokenSource::Env("CI_TOKEN".into()), "api.token[1].env".into()),
        ]
    );
    let named_only = "zones_dir = \"z\"\n[api]\n[[api.token]]\nname = \"ops\"\nfile = \"/etc/ops\"\n";
    assert_eq!(names(named_only).len(), 1, "named tokens alone: no token from MERIDIAN_API_TOKEN");

    let bad = "zones_dir = \"z\"\n[api]\ntoken_env = \"T\"\n\
               [[api.token]]\nname = \"default\"\nfile = \"a\"\n\
               [[api.token]]\nname = \"a b\"\nfile = \"b\"\n\
               [[api.token]]\nname = \"c\"\nfile = \"c\"\nenv = \"C\"\n\
               [[api.token]]\nname = \"d\"\n";
    let found: Vec<String> = problems(bad).iter().map(ToString::to_string).collect();
    assert_eq!(
        found,
        [
            r#"api.token[0].name: "default" names another token too: each token has a name of its own"#.to_owned(),
            format!(r#"api.token[1].name: "a b" is not a token name: a token name is {}"#, names::REGION_NAME_RULE),
            "api.token[2]: give one of file or env: where the token is".to_owned(),
            "api.token[3]: give one of file or env: where the token is".to_owned(),
        ]
    );
    let error = parse("zones_dir = \"z\"\n[api]\n[[api.token]]\nname = \"x\"\ntoken = \"s3cret\"\n").unwrap_err();
    assert!(error.to_string().contains("unknown field `token`"), "no token inline in a named table: {error}");
    assert!(!error.to_string().contains("s3cret"), "{error}");
}

#[test]
fn api_limits_have_defaults_and_bounds_and_tls_needs_both_files() {
    let config = parse("zones_dir = \"z\"\n[api]\n").unwrap();
    let api = config.api.expect("[api]");
    assert_eq!(api.tls, None);
    assert_eq!(api.limits, ApiLimits::default());
    assert_eq!((api.limits.max_failed_auth, api.limits.failed_auth_window), (10, Duration::from_secs(60)));
    assert_eq!(
        (api.limits.header_timeout, api.limits.request_timeout),
        (Duration::from_secs(10), Duration::from_secs(30))
    );
    assert_eq!((api.limits.max_connections, api.limits.max_header_bytes), (256, 16_384));

    let config = parse("zones_dir = \"z\"\n[api]\ntls_cert = \"tls/cert.pem\"\ntls_key = \"/abs/key.pem\"\n").unwrap();
    let tls = config.api.unwrap().tls.expect("tls");
    assert_eq!(
        (tls.cert.as_path(), tls.key.as_path()),
        (Path::new("/etc/meridian/tls/cert.pem"), Path::new("/abs/key.pem"))
    );

    let found = problems(
        "zones_dir = \"z\"\n[api]\ntls_cert = \"cert.pem\"\nmax_connections = 0\nheader_timeout_secs = 0\n\
         request_timeout_secs = 7200\nmax_failed_auth = 0\nfailed_auth_window_secs = 0\nmax_header_bytes = 100\n",
    );
    let at: Vec<&str> = found.iter().map(|p| p.at.as_str()).collect();
    assert_eq!(
        at,
        [
            "api.max_header_bytes",
            "api.max_connections",
            "api.header_timeout_secs",
            "api.request_timeout_secs",
            "api.max_failed_auth",
            "api.failed_auth_window_secs",
            "api.tls_key",
        ]
    );
    assert_eq!(found[1].message, "0 is outside the range 1 to 65536", "{:?}", found[1]);
    let found = problems("zones_dir = \"z\"\n[api]\ntls_key = \"key.pem\"\n");
    assert_eq!(
        (found[0].at.as_str(), found[0].message.as_str()),
        ("api.tls_cert", "missing: tls_key needs the certificate it belongs to")
    );
}

#[test]
fn healthz_degraded_status_is_200_by_default_and_only_200_or_503() {
    let status = |extra: &str| {
        parse(&format!("zones_dir = \"z\"\n[api]\n{extra}")).map(|c| c.api.unwrap().healthz_degraded_status)
    };
    assert_eq!(status("").unwrap(), 200);
    assert_eq!(status("healthz_degraded_status = 503").unwrap(), 503);
    assert_eq!(status("healthz_degraded_status = 200").unwrap(), 200);
    let found = problems("zones_dir = \"z\"\n[api]\nhealthz_degraded_status = 500\n");
    assert_eq!(
        (found[0].at.as_str(), found[0].message.as_str()),
        ("api.healthz_degraded_status", "500 is not 200 or 503 (the status /healthz answers while a pool is down)")
    );
}

/// A configuration with one region named `name` (a TOML basic string's contents, so escapes
/// such as `\u0000` are written as they are), in a pool.
fn with_region_named(name: &str) -> String {
    format!(
        "zones_dir = \"z\"\n[[region]]\nname = \"{name}\"\nendpoints = [ {{ address = \"192.0.2.1\" }} ]\n\
         [[pool]]\nname = \"www.example.test.\"\npolicy = \"priority\"\nregions = [\"{name}\"]\n"
    )
}

#[test]
fn a_region_name_outside_the_rule_fails_naming_the_field_and_the_rule() {
    let long = "r".repeat(64);
    let five_thousand = "r".repeat(5_000);
    let bad =
        [r"eu\u0000west", r"eu\nwest", r"eu\u202Ewest", "eu/west", "..", ".", "", "eu west", &long, &five_thousand];
    for name in bad {
        let found = problems(&with_region_named(name));
        assert_eq!(found[0].at, "region[0].name", "{name}: {found:?}");
        assert!(found[0].message.contains(names::REGION_NAME_RULE), "{name}: {found:?}");
        assert!(found[0].message.len() < 300, "{name}: the message quotes the name cut short");
    }
    for name in ["eu-west", "EU_west.2", &"r".repeat(63)] {
        let config = parse(&with_region_named(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(config.regions[0].name, name);
    }
}

#[test]
fn a_pool_name_that_is_not_a_domain_name_is_refused_with_a_clear_message() {
    let pool = |name: &str| {
        format!(
            "zones_dir = \"z\"\n[[region]]\nname = \"a\"\nendpoints = [ {{ address = \"192.0.2.1\" }} ]\n\
             [[pool]]\nname = \"{name}\"\npolicy = \"priority\"\nregions = [\"a\"]\n"
        )
    };
    let five_thousand = "w".repeat(5_000);
    let labels = "w.".repeat(200);
    for name in [r"www\u0000.example.", r"www\n.example.", r"www\u202E.example.", &five_thousand, &labels] {
        let found = problems(&pool(name));
        assert_eq!(found[0].at, "pool[0].name", "{name}: {found:?}");
        let message = &found[0].message;
        assert!(message.contains("is not a domain name"), "{name}: {message}");
        assert!(!message.contains(['\0', '\n', '\u{202e}']), "{name}: control characters escaped: {message:?}");
        assert!(message.len() < 400, "{name}: cut short: {message}");
    }
}

#[test]
fn a_check_host_or_path_that_would_change_where_or_what_a_probe_asks_is_refused() {
    let check = |fields: &str| {
        format!(
            "zones_dir = \"z\"\n[[region]]\nname = \"a\"\nendpoints = [ {{ address = \"192.0.2.1\" }} ]\n\
             check = {{ type = \"http\", {fields} }}\n"
        )
    };
    let long_path = format!("path = \"/{}\"", "p".repeat(3_000));
    let bad = [
        ("host = \"evil.example@www.example.com\"", r#"region[0] "a".check.host"#),
        ("host = \"www.example.com/x\"", r#"region[0] "a".check.host"#),
        ("host = \"www.example.com:8080\"", r#"region[0] "a".check.host"#),
        (r#"host = "www.example.com\r\nX-Evil: 1""#, r#"region[0] "a".check.host"#),
        ("host = \"\"", r#"region[0] "a".check.host"#),
        (r#"path = "/health\u0000""#, r#"region[0] "a".check.path"#),
        (r#"path = "/health HTTP/1.1\r\nX-Evil: 1""#, r#"region[0] "a".check.path"#),
        (long_path.as_str(), r#"region[0] "a".check.path"#),
    ];
    for (fields, at) in bad {
        let found = problems(&check(fields));
        assert_eq!(found.iter().map(|p| p.at.as_str()).collect::<Vec<_>>(), [at], "{fields}");
        assert!(!found[0].message.contains(['\0', '\r', '\n']) && found[0].message.len() < 300, "{found:?}");
    }
    let config = parse(&check("host = \"www.example.com.\", path = \"/health?full=1&x=%20\"")).unwrap();
    let check = config.regions[0].endpoints[0].check.as_ref().unwrap();
    assert_eq!((check.host.as_deref(), check.path.as_str()), (Some("www.example.com."), "/health?full=1&x=%20"));
}

#[test]
fn slow_start_is_a_regions_default_for_its_endpoints_and_is_bounded_by_a_day() {
    let config = parse(
        "zones_dir = \"z\"\n[[region]]\nname = \"eu\"\nslow_start = \"2m\"\nendpoints = [ { address = \"192.0.2.1\" }, \
         { address = \"192.0.2.2\", slow_start = \"30s\" } ]\n[[region]]\nname = \"us\"\n\
         endpoints = [ { address = \"192.0.2.3\" } ]\n",
    )
    .unwrap();
    let slow: Vec<Duration> = config.regions.iter().flat_map(|r| r.endpoints.iter().map(|e| e.slow_start)).collect();
    assert_eq!(slow, [Duration::from_secs(120), Duration::from_secs(30), Duration::ZERO]);
    let found = problems(
        "zones_dir = \"z\"\n[[region]]\nname = \"eu\"\nslow_start = \"25h\"\n\
         endpoints = [ { address = \"192.0.2.1\", slow_start = 0 } ]\n",
    );
    let lines: Vec<String> = found.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            r#"region[0] "eu".slow_start: "25h" is not a ramp's length: more than 0 and at most 24h"#,
            r#"region[0] "eu".endpoints[0] "192.0.2.1".slow_start: 0 is not a ramp's length: more than 0 and at most 24h"#,
        ]
    );
}

#[test]
fn a_region_never_mixes_names_and_addresses() {
    let found = problems(
        "zones_dir = \"z\"\n\
         [[region]]\nname = \"mixed\"\nendpoints = [ { address = \"192.0.2.1\" }, { name = \"lb.cdn.example\" } ]\n\
         [[region]]\nname = \"both\"\nendpoints = [ { address = \"192.0.2.2\", name = \"lb.cdn.example.\" } ]\n\
         [[region]]\nname = \"names\"\nendpoints = [ { name = \"A.cdn.example.\" }, { name = \"a.CDN.example\" }, { name = \"bad..name\" }, {} ]\n",
    );
    let lines: Vec<String> = found.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            r#"region[0] "mixed".endpoints: endpoints[0] is an address and endpoints[1] a name: a region's endpoints are all addresses or all names (put the names in a region of their own)"#,
            r#"region[1] "both".endpoints[0]: "192.0.2.2" has both an address and a name: an endpoint is one or the other"#,
            r#"region[2] "names".endpoints[1] "a.CDN.example.".name: a.CDN.example. is also endpoints[0]: a region lists a name once"#,
            r#"region[2] "names".endpoints[2].name: "bad..name" is not a domain name: it has an empty label (two dots in a row, or a leading dot)"#,
            r#"region[2] "names".endpoints[3]: an endpoint needs an address, or a name"#,
        ],
    );
}

#[test]
fn name_endpoints_are_fully_qualified_and_shown_by_name() {
    let config = parse(
        "zones_dir = \"z\"\n[[region]]\nname = \"cdn\"\nendpoints = [ { name = \"eu-lb-123.elb.example.net\", weight = 3 } ]\n",
    )
    .unwrap();
    let endpoint = &config.regions[0].endpoints[0];
    assert_eq!(endpoint.target().to_string(), "eu-lb-123.elb.example.net.");
    assert_eq!(endpoint.weight, 3);
}

#[test]
fn asns_and_asn_overrides_are_checked_and_need_an_asn_database() {
    let found = problems(
        "zones_dir = \"z\"\n[geoip]\ndatabase = \"geo.mmdb\"\n\
         [[region]]\nname = \"isp\"\nasns = [64500, 0, 4294967296]\nendpoints = [ { address = \"192.0.2.1\" } ]\n\
         [[pool]]\nname = \"p.test.\"\npolicy = \"geo\"\nregions = [\"isp\"]\n\
         overrides = [ { asn = 64500, region = \"isp\" }, { asn = 64500, region = \"isp\" }, { asn = 1, subnet = \"10.0.0.0/8\", region = \"isp\" }, { region = \"isp\" } ]\n",
    );
    let lines: Vec<String> = found.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            r#"region[0] "isp".asns[1]: 0 is not an autonomous system number (1 to 4294967295)"#,
            r#"region[0] "isp".asns[2]: 4294967296 is not an autonomous system number (1 to 4294967295)"#,
            r#"pool[0] "p.test.".overrides[1].asn: AS64500 has an override already"#,
            r#"pool[0] "p.test.".overrides[2]: an override names a subnet or an asn, not both: write one override for each"#,
            r#"pool[0] "p.test.".overrides[3]: an override needs a subnet or an asn"#,
            r#"pool[0] "p.test.".overrides: an override by asn needs an ASN database: add [geoip] asn_database = "..." (see the README, Targeting by network)"#,
            r#"pool[0] "p.test.".policy: region "isp" lists asns, which geo matches in an ASN database: add [geoip] asn_database = "..." (see the README, Targeting by network)"#,
        ],
    );
    let config = parse(
        "zones_dir = \"z\"\n[geoip]\nasn_database = \"asn.mmdb\"\n\
         [[region]]\nname = \"isp\"\nendpoints = [ { address = \"192.0.2.1\" } ]\n\
         [[pool]]\nname = \"p.test.\"\npolicy = \"priority\"\nregions = [\"isp\"]\noverrides = [ { asn = 64500, region = \"isp\" } ]\n",
    )
    .unwrap();
    assert_eq!(config.asn_database.as_deref(), Some(Path::new("/etc/meridian/asn.mmdb")));
    assert_eq!(config.geoip, None);
    assert_eq!(config.pools[0].asn_overrides, [(64500, 0)]);
}
