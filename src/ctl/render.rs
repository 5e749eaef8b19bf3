//! The API's JSON as text for people: one function per view, each taking the answer as parsed
//! and returning the lines to print. Pure: no sockets, no clock. Missing or mistyped fields print
//! as `-`, so a newer server with more (or fewer) fields still gives a readable table.

use serde_json::Value;

use super::table::Table;
use crate::timestamp::{parse_rfc3339, rfc3339};

/// How many countries `analytics` lists per pool.
const TOP_COUNTRIES: usize = 10;

/// `ctl status`: the server, then one row per region of each pool.
pub fn status(status: &Value) -> String {
    let mut out = String::new();
    for (key, value) in [
        ("version", text(&status["version"])),
        ("identity", text(&status["identity"])),
        ("uptime", status["uptime_secs"].as_u64().map_or_else(dash, uptime)),
        ("generation", text(&status["generation"])),
    ] {
        out.push_str(&format!("{key:<12}{value}\n"));
    }
    let zones = list(&status["zones"]);
    if zones.is_empty() {
        out.push_str("zones       -\n");
    }
    for (i, zone) in zones.iter().enumerate() {
        let key = if i == 0 { "zones" } else { "" };
        out.push_str(&format!("{key:<12}{} ({} records)\n", text(&zone["origin"]), text(&zone["records"])));
        for key in list(&zone["keys"]) {
            let role = if key["flags"].as_u64() == Some(257) { "KSK/CSK" } else { "ZSK" };
            let publish = if key["publish_only"].as_bool() == Some(true) { ", publish only" } else { "" };
            out.push_str(&format!(
                "{:<12}  key {} alg {} {role}{publish}\n",
                "",
                text(&key["tag"]),
                text(&key["algorithm"])
            ));
            if let Some(ds) = key["ds"].as_str() {
                out.push_str(&format!("{:<12}    {ds}\n", ""));
            }
        }
    }
    out.push('\n');
    let pools = list(&status["pools"]);
    if pools.is_empty() {
        out.push_str("no pools\n");
        return out;
    }
    let mut table = Table::new(&["POOL", "POLICY", "TTL", "REGION", "CAN-SERVE", "ENDPOINTS"]).right(&["TTL"]);
    let mut notes = String::new();
    for pool in pools {
        let name = text(&pool["name"]);
        let regions = list(&pool["answer_set"]);
        if regions.is_empty() {
            table.row([name.clone(), text(&pool["policy"]), ttl(pool), dash(), dash(), dash()]);
        }
        for (i, region) in regions.iter().enumerate() {
            let first = |v: String| if i == 0 { v } else { String::new() };
            let mut endpoints = joined(&region["endpoints"]);
            if let Some(to) = region["failed_over_to"].as_str() {
                endpoints.push_str(&format!(" (failed over to {to})"));
            }
            table.row([
                first(name.clone()),
                first(text(&pool["policy"])),
                first(ttl(pool)),
                text(&region["region"]),
                yes_no(&region["can_serve"]),
                endpoints,
            ]);
        }
        if pool["all_down"].as_bool() == Some(true) {
            notes.push_str(&format!("{name}: no region can serve; answers follow the pool's when_all_down\n"));
        }
        if pool["failover_ttl_in_force"].as_bool() == Some(true) {
            notes.push_str(&format!("{name}: answers carry the failover TTL\n"));
        }
    }
    out.push_str(&table.to_string());
    if !notes.is_empty() {
        out.push('\n');
        out.push_str(&notes);
    }
    out
}

/// `ctl regions [REGION]`: one row per endpoint; the answer is a list, or one region.
pub fn regions(regions: &Value) -> String {
    let regions = match regions {
        Value::Array(all) => all.as_slice(),
        one => std::slice::from_ref(one),
    };
    // A LOAD column only where loads are reported: most deployments have none.
    let loads = regions.iter().flat_map(|r| list(&r["endpoints"])).any(|e| !e["load"].is_null());
    let mut heads = vec!["REGION", "ENDPOINT", "WEIGHT", "HEALTH", "MANUAL", "SERVABLE", "RTT-AVG", "RTT-P95"];
    if loads {
        heads.push("LOAD");
    }
    let mut table = Table::new(&heads).right(&["WEIGHT", "RTT-AVG", "RTT-P95"]);
    let mut notes = String::new();
    for region in regions {
        let name = text(&region["name"]);
        let endpoints = list(&region["endpoints"]);
        if endpoints.is_empty() {
            table.row([name.clone()]);
        }
        for (i, endpoint) in endpoints.iter().enumerate() {
            let mut address = text(&endpoint["address"]);
            if endpoint["backup"].as_bool() == Some(true) {
                address.push_str(" (backup)");
            }
            let mut row = vec![
                if i == 0 { name.clone() } else { String::new() },
                address,
                weight(endpoint),
                text(&endpoint["health"]),
                text(&endpoint["manual"]),
                match (yes_no(&endpoint["servable"]), endpoint["weight"].as_u64()) {
                    (no, Some(0)) if no == "no" => "no (weight 0)".to_owned(),
                    (servable, _) => servable,
                },
                ms(&endpoint["rtt"]["avg_ms"]),
                ms(&endpoint["rtt"]["p95_ms"]),
            ];
            if loads {
                row.push(load(&endpoint["load"]));
            }
            table.row(row);
        }
        if region["down"].as_bool() == Some(true) {
            notes.push_str(&format!("region {name} is down: fewer servable endpoints than its min_healthy\n"));
        }
        for endpoint in endpoints.iter() {
            if let Some(until) = endpoint["ramp"]["slow_start_until"].as_str() {
                let until = time(&Value::String(until.to_owned()));
                notes.push_str(&format!("{name}/{}: slow start until {until}\n", text(&endpoint["address"])));
            }
        }
        // In a cluster HEALTH is this instance's own view and SERVABLE follows the votes.
        for endpoint in endpoints.iter() {
            let address = text(&endpoint["address"]);
            for pool in list(&endpoint["shed_in"]) {
                notes.push_str(&format!("{name}/{address} is shed by {}: over its shed.high\n", text(pool)));
            }
            if let Some(error) = endpoint["load"]["error"].as_str() {
                notes.push_str(&format!("load of {name}/{address} not read: {error}\n"));
            }
            if let Some(votes) = endpoint["votes"]["text"].as_str() {
                notes.push_str(&format!("votes on {name}/{}: {votes}\n", text(&endpoint["address"])));
            }
        }
        // A registration with a lease: removed unless renewed within what is left.
        for endpoint in endpoints.iter() {
            let lease = &endpoint["lease"];
            if let (Some(left), Some(ttl)) = (lease["remaining_secs"].as_f64(), lease["ttl_secs"].as_f64()) {
                let address = text(&endpoint["address"]);
                notes.push_str(&format!("lease of {name}/{address}: {left:.1} s left of {ttl} s\n"));
            }
        }
    }
    if table.is_empty() {
        return "no regions\n".to_owned();
    }
    let mut out = table.to_string();
    if !notes.is_empty() {
        out.push('\n');
        out.push_str(&notes);
    }
    out
}

/// An endpoint's weight: as set, or on the move, "3 → 10 by 14:32:05 UTC" (where a ramp or
/// slow start has got to, the weight it reaches, and the time of day it does; ramps last at
/// most a day).
fn weight(endpoint: &Value) -> String {
    let ramp = &endpoint["ramp"];
    if ramp.is_null() {
        return text(&endpoint["weight"]);
    }
    let now = endpoint["effective_weight"].as_f64().map_or_else(dash, |w| {
        let shown = format!("{w:.1}");
        shown.strip_suffix(".0").map_or(shown.clone(), str::to_owned)
    });
    let until = time(&ramp["until"]);
    let clock = until.split_once(' ').map_or(until.as_str(), |(_, clock)| clock);
    format!("{now} → {} by {clock}", text(&ramp["to"]))
}

/// An endpoint's load as `ctl regions` shows it: "0.73 (push)", "aged out", or "-".
fn load(load: &Value) -> String {
    match (load["smoothed"].as_f64(), load["source"].as_str()) {
        (Some(value), Some("push")) => format!("{value:.2} (push)"),
        (Some(value), _) => format!("{value:.2}"),
        (None, _) if !load["at"].as_str().unwrap_or("").is_empty() => "aged out".to_owned(),
        _ => dash(),
    }
}

/// A change the API made: what was asked, and the generation that serves it.
pub fn applied(what: &str, answer: &Value) -> String {
    format!("{what} (generation {})\n", text(&answer["generation"]))
}

/// `ctl endpoint heartbeat`: the lease renewed, for a full TTL.
pub fn renewed(what: &str, answer: &Value) -> String {
    format!("{what}: lease renewed for {} s\n", text(&answer["ttl_secs"]))
}

/// `ctl reload`.
pub fn reloaded(answer: &Value) -> String {
    let mut out = format!("reloaded: generation {}\n", text(&answer["generation"]));
    for refused in list(&answer["refused_zones"]) {
        out.push_str(&format!("refused: {}\n", text(refused)));
    }
    out
}

/// `ctl failover` without flags: manual failovers, automatic ones, and the history.
pub fn failovers(status: &Value) -> String {
    let mut manual = Table::new(&["POOL", "FROM", "TO", "SINCE"]);
    for failover in list(&status["manual"]) {
        manual.row([
            text(&failover["pool"]),
            text(&failover["from_region"]),
            text(&failover["to_region"]),
            time(&failover["since"]),
        ]);
    }
    let mut automatic = Table::new(&["POOL", "REGION", "REASON", "NEXT-REGION"]);
    for failover in list(&status["automatic"]) {
        automatic.row([
            text(&failover["pool"]),
            text(&failover["region"]),
            text(&failover["reason"]),
            text(&failover["next_region"]),
        ]);
    }
    let mut history = Table::new(&["TIME", "POOL", "ACTION", "FROM", "TO"]);
    for event in list(&status["history"]) {
        history.row([
            time(&event["at"]),
            text(&event["pool"]),
            text(&event["action"]),
            text(&event["from_region"]),
            text(&event["to_region"]),
        ]);
    }
    [
        section("manual failovers", &manual),
        section("automatic failovers (regions health has taken out)", &automatic),
        section("manual failover history", &history),
    ]
    .join("\n")
}

/// `ctl check REGION`: one row per probed endpoint.
pub fn checks(outcomes: &Value) -> String {
    let mut table = Table::new(&["ENDPOINT", "RESULT", "RTT", "DETAIL"]).right(&["RTT"]);
    for outcome in list(outcomes) {
        // An endpoint without a check is reported, unprobed, with an RTT of 0.
        let rtt = if outcome["result"] == "unchecked" { dash() } else { ms(&outcome["rtt_ms"]) };
        table.row([text(&outcome["endpoint"]), text(&outcome["result"]), rtt, text(&outcome["detail"])]);
    }
    if table.is_empty() {
        return "nothing probed: no endpoint of the region has a check\n".to_owned();
    }
    table.to_string()
}

/// `ctl history`: health transitions, newest first, as the API sorts them.
pub fn history(events: &Value) -> String {
    let mut table = Table::new(&["TIME", "REGION", "ENDPOINT", "FROM", "TO", "DETAIL"]);
    for event in list(events) {
        table.row([
            time(&event["at"]),
            text(&event["region"]),
            text(&event["endpoint"]),
            text(&event["from"]),
            text(&event["to"]),
            text(&event["detail"]),
        ]);
    }
    if table.is_empty() {
        return "no health transitions\n".to_owned();
    }
    table.to_string()
}

/// `ctl analytics`: per pool, its answers and their shares; then the probes' round-trip times.
pub fn analytics(analytics: &Value) -> String {
    let window = text(&analytics["window"]);
    let mut parts = Vec::new();
    for pool in list(&analytics["pools"]) {
        parts.push(pool_analytics(pool, &window));
    }
    if parts.is_empty() {
        parts.push(format!("no pools (window {window})\n"));
    }
    let mut probes =
        Table::new(&["REGION", "ENDPOINT", "AVG", "MIN", "MAX", "P95"]).right(&["AVG", "MIN", "MAX", "P95"]);
    for probe in list(&analytics["probes"]) {
        probes.row([
            text(&probe["region"]),
            text(&probe["endpoint"]),
            ms(&probe["avg_ms"]),
            ms(&probe["min_ms"]),
            ms(&probe["max_ms"]),
            ms(&probe["p95_ms"]),
        ]);
    }
    parts.push(section("probe round-trip times", &probes));
    parts.join("\n")
}

fn pool_analytics(pool: &Value, window: &str) -> String {
    let name = text(&pool["pool"]);
    let answers = pool["answers"].as_u64().unwrap_or(0);
    if answers == 0 {
        return format!("{name}: no answers in the last {window}\n");
    }
    let mut out = format!("{name}: {answers} answers in the last {window}\n\n");
    let shares = |title: &'static str, key: &str, items: &Value, limit: usize| {
        let mut table = Table::new(&[title, "ANSWERS", "SHARE"]).right(&["ANSWERS", "SHARE"]);
        let items = list(items);
        for item in items.iter().take(limit) {
            table.row([text(&item[key]), text(&item["answers"]), percent(&item["share"])]);
        }
        let mut text = table.to_string();
        if items.len() > limit {
            text.push_str(&format!("(and {} more)\n", items.len() - limit));
        }
        text
    };
    let mut rcodes = Table::new(&["RCODE", "COUNT", "RATE"]).right(&["COUNT", "RATE"]);
    for rate in list(&pool["rcodes"]) {
        rcodes.row([text(&rate["rcode"]), text(&rate["count"]), percent(&rate["rate"])]);
    }
    let tables = [
        shares("REGION", "name", &pool["regions"], usize::MAX),
        shares("ENDPOINT", "name", &pool["endpoints"], usize::MAX),
        shares("COUNTRY", "code", &pool["countries"], TOP_COUNTRIES),
        shares("CONTINENT", "code", &pool["continents"], usize::MAX),
        rcodes.to_string(),
    ];
    out.push_str(&tables.join("\n"));
    out
}

/// A pool's TTL in seconds (`ttl` from servers before the unit was in the name).
fn ttl(pool: &Value) -> String {
    text(if pool["ttl_secs"].is_null() { &pool["ttl"] } else { &pool["ttl_secs"] })
}

/// `ctl changes`: one row per change in force, oldest first.
pub fn changes(changes: &Value) -> String {
    let mut table = Table::new(&["ID", "TIME", "TOKEN", "SUMMARY"]).right(&["ID"]);
    for change in list(changes) {
        table.row([text(&change["id"]), time(&change["at"]), text(&change["token"]), text(&change["summary"])]);
    }
    if table.is_empty() {
        return "no API changes in force: the configuration file decides every setting\n".to_owned();
    }
    table.to_string()
}

/// `ctl changes --diff`: each change as a hunk against the configuration file, a setting's
/// value in the file on a `-` line and the change's on a `+` line (a line left out where there
/// is nothing: a region the file does not have, one the change removed). Values are JSON.
pub fn changes_diff(changes: &Value) -> String {
    let changes = list(changes);
    if changes.is_empty() {
        return "no API changes in force: the configuration file decides every setting\n".to_owned();
    }
    let mut out = "--- the configuration file\n+++ with the API changes in force\n".to_owned();
    for change in changes {
        out.push_str(&format!(
            "@@ change {} at {} by {}: {}\n",
            text(&change["id"]),
            time(&change["at"]),
            text(&change["token"]),
            text(&change["summary"])
        ));
        for setting in list(&change["overrides"]) {
            let name = text(&setting["setting"]);
            for (sign, value) in [('-', &setting["file"]), ('+', &setting["change"])] {
                if !value.is_null() {
                    out.push_str(&format!("{sign}{name} = {value}\n"));
                }
            }
        }
    }
    out
}

/// A titled table, or the title and "none".
fn section(title: &str, table: &Table) -> String {
    if table.is_empty() { format!("{title}: none\n") } else { format!("{title}:\n{table}") }
}

/// A JSON value as a cell: strings as they are, numbers as JSON writes them, null as `-`.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => dash(),
        other => other.to_string(),
    }
}

fn dash() -> String {
    "-".to_owned()
}

fn list(value: &Value) -> &[Value] {
    value.as_array().map_or(&[], Vec::as_slice)
}

fn joined(value: &Value) -> String {
    let items: Vec<String> = list(value).iter().map(text).collect();
    if items.is_empty() { dash() } else { items.join(", ") }
}

fn yes_no(value: &Value) -> String {
    match value.as_bool() {
        Some(true) => "yes".to_owned(),
        Some(false) => "no".to_owned(),
        None => dash(),
    }
}

/// Milliseconds to a tenth: "0.4ms".
fn ms(value: &Value) -> String {
    value.as_f64().map_or_else(dash, |ms| format!("{ms:.1}ms"))
}

/// A fraction from 0 to 1 as a percentage to a tenth: "72.9%".
fn percent(value: &Value) -> String {
    value.as_f64().map_or_else(dash, |share| format!("{:.1}%", share * 100.0))
}

/// A time as the API writes it (RFC 3339) as people read it: `2026-12-02 14:26:26 UTC`, in
/// UTC whatever offset it came with. Seconds since the Unix epoch, as servers before RFC 3339
/// wrote them, read the same way (0 was never); anything else prints as it is, or `-`.
fn time(value: &Value) -> String {
    let readable = |unix_secs: u64| rfc3339(unix_secs).replacen('T', " ", 1).replace('Z', " UTC");
    match value {
        Value::String(written) => parse_rfc3339(written).map_or_else(|| written.clone(), |ms| readable(ms / 1000)),
        Value::Number(n) => n.as_u64().filter(|&secs| secs > 0).map_or_else(dash, readable),
        _ => dash(),
    }
}

/// An uptime as "3d 4h 5m 6s", leaving out leading zero units.
fn uptime(secs: u64) -> String {
    let parts = [(secs / 86_400, "d"), (secs % 86_400 / 3600, "h"), (secs % 3600 / 60, "m"), (secs % 60, "s")];
    let first = parts.iter().position(|&(n, _)| n > 0).unwrap_or(parts.len() - 1);
    parts[first..].iter().map(|(n, unit)| format!("{n}{unit}")).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests;

/// `ctl cluster`: the connection and revision on one line, then the members heard from.
pub fn cluster(cluster: &Value) -> String {
    if cluster["clustered"].as_bool() == Some(false) {
        return "standalone: this instance is not part of a cluster (no [cluster] in its configuration)\n".to_owned();
    }
    let connected =
        if cluster["connected"].as_bool() == Some(true) { "connected to NATS" } else { "NOT connected to NATS" };
    let log = match cluster["log_revision"].as_u64() {
        Some(0) => "log not read yet".to_owned(),
        _ => format!("log at {}", text(&cluster["log_revision"])),
    };
    let mut out = format!(
        "cluster member {}: {connected}, bucket {}, revision {} applied ({log}), health by {} of the vantage points\n",
        text(&cluster["name"]),
        text(&cluster["bucket"]),
        text(&cluster["applied_revision"]),
        text(&cluster["health_quorum"]),
    );
    if cluster["isolated"].as_bool() == Some(true) {
        out.push_str("isolated: no other vantage point reports; health is this instance's own view\n");
    }
    let members = list(&cluster["members"]);
    if members.is_empty() {
        out.push_str("no other member heard from\n");
        return out;
    }
    out.push_str(&format!("{} other member(s) heard from:\n", members.len()));
    let mut table = Table::new(&["MEMBER", "LAST REPORT", "AGE-MS"]).right(&["AGE-MS"]);
    for member in members {
        table.row([text(&member["name"]), time(&member["last_report"]), text(&member["age_ms"])]);
    }
    out.push('\n');
    out.push_str(&table.to_string());
    out
}
