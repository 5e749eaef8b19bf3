use clap::Parser;
use serde_json::json;

use super::*;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    ctl: CtlArgs,
}

fn parse(args: &[&str]) -> Result<CtlArgs, clap::Error> {
    Cli::try_parse_from(std::iter::once("ctl").chain(args.iter().copied())).map(|cli| cli.ctl)
}

/// The request a command line makes, as `METHOD /path?query body`.
fn request(args: &[&str]) -> String {
    let ctl = parse(args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
    let request = request_of(&ctl.command);
    let mut line = format!("{} /{}", request.method, request.path.join("/"));
    let query: Vec<String> = request.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
    if !query.is_empty() {
        line.push_str(&format!("?{}", query.join("&")));
    }
    if let Some(body) = request.body {
        line.push_str(&format!(" {body}"));
    }
    line
}

#[test]
fn each_command_makes_its_request() {
    let cases: &[(&[&str], &str)] = &[
        (&["status"], "GET /api/v1/lb/status"),
        (&["regions"], "GET /api/v1/lb/regions"),
        (&["regions", "eu"], "GET /api/v1/lb/regions/eu"),
        (&["drain", "eu/192.0.2.1"], "POST /api/v1/lb/regions/eu/endpoints/192.0.2.1/drain"),
        (&["undrain", "eu/2001:db8::1"], "POST /api/v1/lb/regions/eu/endpoints/2001:db8::1/undrain"),
        (&["weight", "eu/192.0.2.1", "5"], r#"PATCH /api/v1/lb/regions/eu/endpoints/192.0.2.1 {"weight":5}"#),
        (&["load", "eu/192.0.2.1", "0.73"], r#"PUT /api/v1/lb/regions/eu/endpoints/192.0.2.1/load {"load":0.73}"#),
        (
            &["weight", "eu/192.0.2.1", "10", "--over", "10m"],
            r#"PATCH /api/v1/lb/regions/eu/endpoints/192.0.2.1 {"over":"10m","weight":10}"#,
        ),
        (
            &["strategy", "--pool", "www.", "weighted"],
            r#"PUT /api/v1/lb/strategy {"pool":"www.","strategy":"weighted"}"#,
        ),
        (
            &["strategy", "--pool", "www.", "priority", "--regions", "b,a"],
            r#"PUT /api/v1/lb/strategy {"parameters":{"regions":["b","a"]},"pool":"www.","strategy":"priority"}"#,
        ),
        (&["failover"], "GET /api/v1/lb/failover/status"),
        (
            &["failover", "--pool", "www.", "--from", "a", "--to", "b"],
            r#"POST /api/v1/lb/failover/trigger {"from_region":"a","pool":"www.","to_region":"b"}"#,
        ),
        (
            &["failover", "--pool", "www.", "--clear"],
            r#"POST /api/v1/lb/failover/clear {"from_region":null,"pool":"www."}"#,
        ),
        (
            &["failover", "--clear", "--pool", "www.", "--from", "a"],
            r#"POST /api/v1/lb/failover/clear {"from_region":"a","pool":"www."}"#,
        ),
        (&["check", "eu"], r#"POST /api/v1/lb/health/check {"region":"eu"}"#),
        (&["history"], "GET /api/v1/lb/health/history"),
        (
            &["history", "--limit", "5", "--region", "eu", "--endpoint", "192.0.2.1"],
            "GET /api/v1/lb/health/history?region=eu&endpoint=192.0.2.1&limit=5",
        ),
        (&["analytics", "--window", "1h"], "GET /api/v1/lb/analytics?window=1h"),
        (&["analytics", "--pool", "www.", "--window", "1m"], "GET /api/v1/lb/analytics?pool=www.&window=1m"),
        (&["reload"], "POST /api/v1/reload"),
        (&["changes"], "GET /api/v1/changes"),
        (&["changes", "--diff"], "GET /api/v1/changes"),
        (&["revert", "7"], "DELETE /api/v1/changes/7"),
    ];
    for (args, expected) in cases {
        assert_eq!(request(args), *expected, "{args:?}");
    }
}

#[test]
fn changes_show_as_a_table_or_a_diff_and_revert_takes_a_number() {
    let view = |args: &[&str]| request_of(&parse(args).unwrap().command).view;
    assert_eq!(view(&["changes"]), View::Changes { diff: false });
    assert_eq!(view(&["changes", "--diff"]), View::Changes { diff: true });
    for bad in [&["revert"][..], &["revert", "x"], &["revert", "-1"], &["revert", "1", "2"]] {
        assert!(parse(bad).is_err(), "{bad:?} was accepted");
    }
}

#[test]
fn failover_flags_that_do_not_make_one_action_are_usage_errors() {
    for args in [
        &["failover", "--pool", "www."][..],
        &["failover", "--pool", "www.", "--from", "a"],
        &["failover", "--to", "b"],
        &["failover", "--from", "a", "--to", "b"],
        &["failover", "--clear"],
        &["failover", "--pool", "www.", "--from", "a", "--to", "b", "--clear"],
    ] {
        assert!(parse(args).is_err(), "{args:?} was accepted");
    }
}

#[test]
fn endpoints_split_at_the_first_slash_so_ipv6_addresses_stay_whole() {
    let parsed = EndpointRef::parse("eu-west/2001:db8::1").unwrap();
    assert_eq!((parsed.region.as_str(), parsed.address.as_str()), ("eu-west", "2001:db8::1"));
    assert_eq!(parsed.to_string(), "eu-west/2001:db8::1");
    assert_eq!(EndpointRef::parse("a/b/c").unwrap().address, "b/c", "the server says what is wrong with it");
    for bad in ["192.0.2.1", "/192.0.2.1", "eu/", ""] {
        let error = EndpointRef::parse(bad).unwrap_err();
        assert!(error.contains("is not REGION/ADDRESS"), "{bad}: {error}");
    }
    assert!(parse(&["drain", "192.0.2.1"]).is_err());
}

#[test]
fn global_flags_go_before_or_after_the_command() {
    let before = parse(&["--json", "--timeout", "5", "--api", "http://[::1]:9000", "status"]).unwrap();
    let after = parse(&["status", "--json", "--timeout", "5", "--api", "http://[::1]:9000"]).unwrap();
    for ctl in [before, after] {
        assert!(ctl.json);
        assert_eq!((ctl.connection.timeout, ctl.connection.url()), (5, "http://[::1]:9000"));
    }
    assert!(parse(&["status", "--timeout", "0"]).is_err());
    assert!(parse(&["status", "--token", "t", "--token-file", "f"]).is_err());
}

#[test]
fn the_token_comes_from_flags_before_the_environment() {
    let dir = std::env::temp_dir().join(format!("meridian-ctl-token-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("token");
    std::fs::write(&file, "  from-file\n").unwrap();
    let empty = dir.join("empty");
    std::fs::write(&empty, "\n").unwrap();
    let file_arg = file.to_str().unwrap();
    let env = |token: Option<&'static str>, file: Option<String>| {
        move |name: &str| match name {
            "MERIDIAN_API_TOKEN" => token.map(str::to_owned),
            "MERIDIAN_API_TOKEN_FILE" => file.clone(),
            _ => None,
        }
    };
    let token_of = |args: &[&str], env| token(&parse(args).unwrap().connection, env).map_err(|e| e.to_string());
    let both = || env(Some("from-env"), Some(file_arg.to_owned()));
    assert_eq!(token_of(&["--token", "flag", "status"], both()), Ok("flag".to_owned()));
    assert_eq!(
        token_of(&["--token-file", file_arg, "status"], env(Some("from-env"), None)),
        Ok("from-file".to_owned())
    );
    assert_eq!(token_of(&["status"], both()), Ok("from-env".to_owned()));
    assert_eq!(token_of(&["status"], env(Some(""), Some(file_arg.to_owned()))), Ok("from-file".to_owned()));
    let none = token_of(&["status"], env(None, None)).unwrap_err();
    assert!(none.starts_with("no API token"), "{none}");
    let empty = token_of(&["--token-file", empty.to_str().unwrap(), "status"], env(None, None)).unwrap_err();
    assert!(empty.ends_with("is empty"), "{empty}");
    let missing = token_of(&["status"], env(None, Some("/nonexistent/token".to_owned()))).unwrap_err();
    assert!(missing.starts_with("cannot read the token file /nonexistent/token"), "{missing}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn changes_are_shown_with_the_generation_that_serves_them() {
    let ctl = parse(&["drain", "eu/192.0.2.1"]).unwrap();
    let request = request_of(&ctl.command);
    assert_eq!(render(&request.view, &json!({"generation": 7})), "eu/192.0.2.1 drained (generation 7)\n");
    assert_eq!(render(&View::Reloaded, &json!({"generation": 8})), "reloaded: generation 8\n");
}
