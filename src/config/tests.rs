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
    assert_eq!(
        paths,
        [Path::new("/etc/meridian/zones/a.zone"), Path::new("/abs/b.zone")]
    );
    let ZoneSource::File {
        origin: Some(origin), ..
    } = &config.zones[1]
    else {
        panic!("origin")
    };
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
fn unknown_keys_are_errors_not_silently_ignored() {
    let err = parse("[server]\nlisten = [\"127.0.0.1:53\"]\nidentiy = \"x\"\n").unwrap_err();
    assert!(err.to_string().contains("unknown field `identiy`"), "{err}");
}

#[test]
fn a_configuration_without_zones_is_invalid() {
    let found = problems("[server]\n");
    assert_eq!(
        found,
        [Problem::new(
            "zone",
            "no zones configured: add [[zone]] file = \"...\" or zones_dir"
        )]
    );
}

#[test]
fn listen_flag_replaces_the_configured_addresses() {
    let mut config = parse("zones_dir = \"z\"\n").unwrap();
    config.set_listen(&["127.0.0.1:0".into(), "[::1]:5300".into()]).unwrap();
    assert_eq!(config.server.listen.len(), 2);
    assert!(config.set_listen(&["localhost".into()]).is_err());
}

#[test]
fn a_zone_table_may_name_a_directory_instead_of_a_file() {
    let config = parse("[[zone]]\nzones_dir = \"zones\"\n").unwrap();
    assert!(
        matches!(&config.zones[..], [ZoneSource::Dir { at, path }] if at == "zone[0].zones_dir" && path == Path::new("/etc/meridian/zones"))
    );
    let found = problems("[[zone]]\nfile = \"a.zone\"\nzones_dir = \"zones\"\n");
    assert_eq!(
        found,
        [Problem::new("zone[0]", "give either file or zones_dir, not both")]
    );
}
