//! Health from several vantage points: every instance of a cluster probes the targets
//! itself, and the status its own thresholds (rise, fall, flap holds) give an endpoint is its
//! vote. An endpoint is down when `health_quorum` of the vantage points with a fresh vote say
//! so, as Route 53 (more than 18 % of its checkers) and Cloudflare (a majority of data centres)
//! decide. One vantage point's view of a network problem between it and a target then moves
//! no client. Pure: votes carry the time they arrived, and `now` is passed in.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::cluster::Quorum;

/// The most vantage points remembered per endpoint; more are ignored (a cluster has a few).
pub const MAX_VANTAGES: usize = 64;

/// One vantage point's latest vote on one endpoint.
#[derive(Debug, Clone)]
struct Vote {
    vantage: Arc<str>,
    down: bool,
    at: Instant,
}

/// What the vantage points with a fresh vote decide of one endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub down: bool,
    /// The vantage points voting down (this instance's among them when it does).
    pub down_votes: Vec<Arc<str>>,
    /// The vantage points with a fresh vote, this instance included.
    pub voters: usize,
    /// Down votes needed among them.
    pub needed: usize,
    /// Too few fresh votes for the quorum: this instance's own view decides.
    pub own_view: bool,
}

/// The latest vote of every other vantage point, by endpoint ("region/address").
#[derive(Debug, Clone, Default)]
pub struct Votes {
    by_endpoint: HashMap<Arc<str>, Vec<Vote>>,
    /// When each vantage point was last heard from, for the cluster's members.
    heard: HashMap<Arc<str>, Instant>,
}

impl Votes {
    /// Records `vantage`'s vote on `endpoint`, arrived at `at`; replaces its earlier one.
    pub fn record(&mut self, endpoint: &str, vantage: &str, down: bool, at: Instant) {
        if !self.heard.contains_key(vantage) && self.heard.len() >= MAX_VANTAGES * 4 {
            // Full: forget the vantage points not heard from the longest, rather than refuse
            // a real one for good.
            let mut times: Vec<Instant> = self.heard.values().copied().collect();
            times.sort_unstable();
            let cut = times[times.len() / 2];
            self.heard.retain(|_, heard| *heard > cut);
        }
        let vantage: Arc<str> = match self.heard.get_key_value(vantage) {
            Some((known, _)) => known.clone(),
            None => Arc::from(vantage),
        };
        self.heard.insert(vantage.clone(), at);
        let votes = match self.by_endpoint.get_mut(endpoint) {
            Some(votes) => votes,
            None => self.by_endpoint.entry(Arc::from(endpoint)).or_default(),
        };
        if let Some(vote) = votes.iter_mut().find(|v| v.vantage == vantage) {
            *vote = Vote { vantage, down, at };
        } else if votes.len() < MAX_VANTAGES {
            votes.push(Vote { vantage, down, at });
        }
    }

    /// Forgets endpoints no longer configured.
    pub fn retain(&mut self, keep: impl Fn(&str) -> bool) {
        self.by_endpoint.retain(|endpoint, _| keep(endpoint));
    }

    /// The verdict on `endpoint` given this instance's own vote (`own_down`, by vantage
    /// `own`): votes older than `max_age` do not count.
    pub fn verdict(
        &self,
        endpoint: &str,
        own: &str,
        own_down: bool,
        quorum: Quorum,
        max_age: Duration,
        now: Instant,
    ) -> Verdict {
        let fresh = |v: &&Vote| now.saturating_duration_since(v.at) <= max_age && &*v.vantage != own;
        let others: Vec<&Vote> =
            self.by_endpoint.get(endpoint).map(|v| v.iter().filter(fresh).collect()).unwrap_or_default();
        let voters = others.len() + 1;
        let mut down_votes: Vec<Arc<str>> = others.iter().filter(|v| v.down).map(|v| v.vantage.clone()).collect();
        if own_down {
            down_votes.push(Arc::from(own));
        }
        down_votes.sort();
        let needed = quorum.needed(voters);
        // A fixed count larger than the voters heard cannot be reached: this instance's own
        // view decides, and says so.
        let own_view = voters < needed || others.is_empty();
        let down = if own_view { own_down } else { down_votes.len() >= needed };
        Verdict { down, down_votes, voters, needed, own_view }
    }

    /// The vantage points heard from within `max_age`, with when.
    pub fn members(&self, max_age: Duration, now: Instant) -> Vec<(Arc<str>, Instant)> {
        let mut members: Vec<(Arc<str>, Instant)> = self
            .heard
            .iter()
            .filter(|(_, at)| now.saturating_duration_since(**at) <= max_age)
            .map(|(v, at)| (v.clone(), *at))
            .collect();
        members.sort();
        members
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // one real instant as a base for made-up ones
mod tests {
    use super::*;

    fn at(t0: Instant, ms: u64) -> Instant {
        t0 + Duration::from_millis(ms)
    }

    #[test]
    fn one_vantage_point_alone_cannot_fail_an_endpoint_over_but_a_majority_can() {
        let t0 = Instant::now();
        let own = "eu-1";
        let age = Duration::from_secs(5);
        let mut votes = Votes::default();
        votes.record("a/192.0.2.1", "us-1", false, t0);
        votes.record("a/192.0.2.1", "ap-1", false, t0);
        // Only this instance sees it down: 1 of 3 is no majority.
        let verdict = votes.verdict("a/192.0.2.1", own, true, Quorum::Majority, age, at(t0, 100));
        assert!(!verdict.down && !verdict.own_view);
        assert_eq!((verdict.down_votes.len(), verdict.voters, verdict.needed), (1, 3, 2));
        // A second vantage point agrees: down.
        votes.record("a/192.0.2.1", "us-1", true, at(t0, 200));
        let verdict = votes.verdict("a/192.0.2.1", own, true, Quorum::Majority, age, at(t0, 300));
        assert!(verdict.down);
        assert_eq!(verdict.down_votes, [Arc::from("eu-1"), Arc::from("us-1")]);
        // The others see it down while this one does not: still down.
        let verdict = votes.verdict("a/192.0.2.1", own, false, Quorum::Count(1), age, at(t0, 300));
        assert!(verdict.down, "one down vote is the quorum");
    }

    #[test]
    fn many_vantage_names_are_bounded_and_a_new_real_one_is_still_heard() {
        let t0 = Instant::now();
        let mut votes = Votes::default();
        for i in 0..1_000u64 {
            votes.record("a/192.0.2.1", &format!("v{i}"), false, at(t0, i));
        }
        assert!(votes.heard.len() <= MAX_VANTAGES * 4, "{}", votes.heard.len());
        votes.record("a/192.0.2.1", "us-1", true, at(t0, 2_000));
        let members = votes.members(Duration::from_secs(60), at(t0, 2_000));
        assert!(members.iter().any(|(v, _)| &**v == "us-1"), "the newest is heard");
    }

    #[test]
    fn stale_votes_do_not_count_and_without_fresh_ones_the_own_view_decides() {
        let t0 = Instant::now();
        let own = "eu-1";
        let mut votes = Votes::default();
        votes.record("a/192.0.2.1", "us-1", true, t0);
        votes.record("a/192.0.2.1", "ap-1", true, t0);
        let age = Duration::from_secs(5);
        assert!(votes.verdict("a/192.0.2.1", own, false, Quorum::Majority, age, at(t0, 4_000)).down);
        let stale = votes.verdict("a/192.0.2.1", own, false, Quorum::Majority, age, at(t0, 6_000));
        assert!(!stale.down && stale.own_view && stale.voters == 1, "{stale:?}");
        assert_eq!(votes.members(age, at(t0, 6_000)), []);
        // A count above the voters heard: the own view, said so.
        let few = votes.verdict("a/192.0.2.1", own, true, Quorum::Count(5), age, at(t0, 1_000));
        assert!(few.down && few.own_view);
        // This instance's own name among the others never votes twice.
        votes.record("a/192.0.2.1", "eu-1", true, at(t0, 1_000));
        assert_eq!(votes.verdict("a/192.0.2.1", own, false, Quorum::Majority, age, at(t0, 1_000)).voters, 3);
    }
}
