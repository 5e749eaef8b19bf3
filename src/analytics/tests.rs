use std::sync::Arc;
use std::thread;

use super::*;

/// Records `n` answers at `tick` from region slot 0 with endpoint slot 0, from Germany.
fn record_n(pool: &PoolAnalytics, tick: u64, n: u32) {
    for _ in 0..n {
        pool.record(tick, Some(0), [0].into_iter(), Some(*b"DE"), Some(*b"EU"), 0);
    }
}

fn answers(pool: &PoolAnalytics, now: u64, window: Window) -> u64 {
    pool.summary(now, window).answers
}

fn assert_sums_to_one(what: &str, shares: impl Iterator<Item = f64>) {
    let sum: f64 = shares.sum();
    assert!((sum - 1.0).abs() < 1e-9, "{what} sum to {sum}");
}

#[test]
fn windows_count_their_last_buckets_and_let_older_ones_slide_out() {
    let pool = PoolAnalytics::new();
    // Powers of two, so each sum names the ticks it took.
    for (tick, n) in [(1000, 1), (995, 2), (994, 4), (911, 8), (910, 16), (641, 32), (640, 64)] {
        record_n(&pool, tick, n);
    }
    use Window::*;
    let table = [
        // now, window, answers: a window of N minutes spans ticks now-6N+1 ..= now
        (1000, OneMinute, 1 + 2),
        (1000, FifteenMinutes, 1 + 2 + 4 + 8),
        (1000, OneHour, 1 + 2 + 4 + 8 + 16 + 32),
        (999, OneMinute, 2 + 4),
        (1005, OneMinute, 1),
        (1006, OneMinute, 0),
        (1000 + 89, FifteenMinutes, 1),
        (1000 + 90, FifteenMinutes, 0),
        (999, OneHour, 2 + 4 + 8 + 16 + 32 + 64),
        (1000 + 269, OneHour, 1 + 2 + 4 + 8 + 16),
        (1000 + 270, OneHour, 1 + 2 + 4 + 8),
        (1000 + 359, OneHour, 1),
        (1000 + 360, OneHour, 0),
        (5, OneHour, 0), // before everything: the buckets hold later ticks
    ];
    for (now, window, want) in table {
        assert_eq!(answers(&pool, now, window), want, "at tick {now} over {window}");
    }
}

#[test]
fn a_bucket_reused_361_ticks_later_starts_from_zero() {
    let pool = PoolAnalytics::new();
    record_n(&pool, 100, 5);
    assert_eq!(answers(&pool, 100, Window::OneMinute), 5);
    record_n(&pool, 100 + 361, 1); // the same slot of the ring
    let mut regions = 0;
    assert!(pool.ring.read(461, |bucket| regions = bucket.regions[0].load(Ordering::Relaxed)));
    assert_eq!(regions, 1, "the five answers of tick 100 are gone");
    assert_eq!(answers(&pool, 461, Window::OneMinute), 1);
    assert_eq!(answers(&pool, 100, Window::OneMinute), 0, "a bucket of another tick counts as empty");
    record_n(&pool, 100, 7); // an hour late: dropped, not mixed into tick 461
    assert_eq!(answers(&pool, 461, Window::OneMinute), 1);
    assert_eq!(answers(&pool, 100, Window::OneMinute), 0);
}

#[test]
fn the_first_ticks_count_from_an_empty_ring() {
    let pool = PoolAnalytics::new();
    record_n(&pool, 0, 3);
    record_n(&pool, 2, 1);
    assert_eq!(answers(&pool, 2, Window::OneHour), 4);
    assert_eq!(answers(&pool, 0, Window::OneMinute), 3);
}

#[test]
fn slots_stay_with_their_names_across_resolutions() {
    let analytics = Analytics::new();
    let first = analytics.pool("www.example.com.");
    assert_eq!((first.region_slot("eu"), first.region_slot("us"), first.region_slot("eu")), (0, 1, 0));
    assert_eq!((first.endpoint_slot("eu/192.0.2.1"), first.endpoint_slot("us/198.51.100.1")), (0, 1));
    // A rebuild resolves again, in another order, with a region gone and one new.
    let again = analytics.pool("www.example.com.");
    assert!(Arc::ptr_eq(&first, &again));
    assert_eq!((again.region_slot("ap"), again.region_slot("us")), (2, 1));
    assert_eq!(again.endpoint_slot("us/198.51.100.1"), 1);
    assert!(!Arc::ptr_eq(&first, &analytics.pool("other.example.com.")));
    analytics.retain(|name| name == "other.example.com.");
    assert!(!Arc::ptr_eq(&first, &analytics.pool("www.example.com.")), "forgotten, then made anew");
}

#[test]
fn names_past_the_capacity_share_the_overflow_slot() {
    let pool = PoolAnalytics::new();
    for i in 0..MAX_REGION_SLOTS {
        assert_eq!(pool.region_slot(&format!("r{i}")), i);
    }
    assert_eq!(pool.region_slot("late"), MAX_REGION_SLOTS);
    assert_eq!(pool.region_slot("later"), MAX_REGION_SLOTS);
    assert_eq!(pool.region_slot("r0"), 0);
    for i in 0..MAX_ENDPOINT_SLOTS {
        assert_eq!(pool.endpoint_slot(&format!("r/{i}")), i);
    }
    assert_eq!(pool.endpoint_slot("r/late"), MAX_ENDPOINT_SLOTS);
    pool.record(7, Some(pool.region_slot("late")), [MAX_ENDPOINT_SLOTS, 10_000].into_iter(), None, None, 0);
    pool.record(7, Some(usize::MAX), [].into_iter(), None, None, 0);
    let summary = pool.summary(7, Window::OneMinute);
    assert_eq!(summary.regions, [Share { name: "(other)".to_owned(), answers: 2, share: 1.0 }]);
    assert_eq!(summary.endpoints, [Share { name: "(other)".to_owned(), answers: 2, share: 1.0 }]);
}

#[test]
fn shares_and_rates_sum_to_one_sorted_largest_first() {
    let pool = PoolAnalytics::new();
    let (eu, us) = (pool.region_slot("eu"), pool.region_slot("us"));
    let (e1, e2, e3) =
        (pool.endpoint_slot("eu/192.0.2.1"), pool.endpoint_slot("eu/192.0.2.2"), pool.endpoint_slot("us/x"));
    let (de, fr, usa, europe, america) = (Some(*b"DE"), Some(*b"FR"), Some(*b"US"), Some(*b"EU"), Some(*b"NA"));
    let answers = [
        (Some(eu), vec![e1, e2], de, europe, 0),
        (Some(eu), vec![e1], fr, europe, 0),
        (Some(us), vec![e3], usa, america, 0),
        (None, vec![e1, e2, e3], None, None, 2), // failing open, from nowhere known, SERVFAIL
        (Some(eu), vec![e2], de, europe, 16),
    ];
    for (region, endpoints, country, continent, rcode) in answers {
        pool.record(50, region, endpoints.into_iter(), country, continent, rcode);
    }
    let s = pool.summary(52, Window::FifteenMinutes);
    assert_eq!(s.answers, 5);
    let regions: Vec<(&str, u64)> = s.regions.iter().map(|r| (r.name.as_str(), r.answers)).collect();
    assert_eq!(regions, [("eu", 3), ("(none)", 1), ("us", 1)]);
    let endpoints: Vec<(&str, u64)> = s.endpoints.iter().map(|e| (e.name.as_str(), e.answers)).collect();
    assert_eq!(endpoints, [("eu/192.0.2.1", 3), ("eu/192.0.2.2", 3), ("us/x", 2)]);
    let countries: Vec<(&str, u64)> = s.countries.iter().map(|c| (c.code.as_str(), c.answers)).collect();
    assert_eq!(countries, [("DE", 2), ("FR", 1), ("US", 1), ("unknown", 1)]);
    let continents: Vec<(&str, u64)> = s.continents.iter().map(|c| (c.code.as_str(), c.answers)).collect();
    assert_eq!(continents, [("EU", 3), ("NA", 1), ("unknown", 1)]);
    let rcodes: Vec<(&str, u64, f64)> = s.rcodes.iter().map(|r| (r.rcode, r.count, r.rate)).collect();
    assert_eq!(rcodes, [("NOERROR", 3, 0.6), ("SERVFAIL", 1, 0.2), ("other", 1, 0.2)]);
    assert_sums_to_one("regions", s.regions.iter().map(|r| r.share));
    assert_sums_to_one("endpoints", s.endpoints.iter().map(|e| e.share));
    assert_sums_to_one("countries", s.countries.iter().map(|c| c.share));
    assert_sums_to_one("continents", s.continents.iter().map(|c| c.share));
    assert_sums_to_one("rcodes", s.rcodes.iter().map(|r| r.rate));
}

#[test]
fn codes_that_are_not_two_uppercase_letters_are_unknown() {
    let table: [(Option<[u8; 2]>, &str); 7] = [
        (Some(*b"DE"), "DE"),
        (Some(*b"AA"), "AA"),
        (Some(*b"ZZ"), "ZZ"),
        (Some(*b"de"), "unknown"),
        (Some([b'D', 0xC3]), "unknown"),
        (Some(*b"1A"), "unknown"),
        (None, "unknown"),
    ];
    for (country, want) in table {
        let pool = PoolAnalytics::new();
        pool.record(1, None, [].into_iter(), country, Some(*b"XX"), 0);
        let s = pool.summary(1, Window::OneMinute);
        assert_eq!(s.countries.len(), 1);
        assert_eq!(s.countries[0].code, want, "{country:?}");
        assert_eq!(s.continents[0].code, "unknown");
    }
}

#[test]
fn an_empty_window_has_no_entries_and_no_shares() {
    let pool = PoolAnalytics::new();
    let s = pool.summary(1_000_000, Window::OneHour);
    assert_eq!(s.answers, 0);
    assert!(s.regions.is_empty() && s.endpoints.is_empty() && s.countries.is_empty() && s.rcodes.is_empty());
}

#[test]
fn four_threads_recording_in_the_same_tick_lose_nothing() {
    const PER_THREAD: u32 = 20_000;
    let tick = 170_000_000; // a real-looking tick, in a bucket claimed before the threads start
    let pool = PoolAnalytics::new();
    record_n(&pool, tick, 1);
    thread::scope(|scope| {
        for t in 0..4u8 {
            let pool = &pool;
            scope.spawn(move || {
                for i in 0..PER_THREAD {
                    let rcode = u16::from(t);
                    pool.record(
                        tick,
                        Some(usize::from(t)),
                        [usize::from(t), 9].into_iter(),
                        Some([b'A', b'A' + t]),
                        None,
                        rcode,
                    );
                    if i % 1000 == 0 {
                        thread::yield_now();
                    }
                }
            });
        }
    });
    let s = pool.summary(tick, Window::OneMinute);
    assert_eq!(s.answers, 4 * u64::from(PER_THREAD) + 1);
    let n = u64::from(PER_THREAD);
    let rcodes: Vec<(&str, u64)> = s.rcodes.iter().map(|r| (r.rcode, r.count)).collect();
    assert_eq!(rcodes, [("NOERROR", n + 1), ("FORMERR", n), ("NXDOMAIN", n), ("SERVFAIL", n)]);
    assert_eq!(s.endpoints.iter().map(|e| e.answers).sum::<u64>(), 8 * n + 1);
    assert_eq!(s.countries.iter().find(|c| c.code == "AD").map(|c| c.answers), Some(n));
}

#[test]
fn windows_parse_and_serialize_as_1m_15m_1h() {
    for (text, window) in [("1m", Window::OneMinute), ("15m", Window::FifteenMinutes), ("1h", Window::OneHour)] {
        assert_eq!(text.parse::<Window>(), Ok(window));
        assert_eq!(window.to_string(), text);
    }
    for bad in ["", "5m", "1H", "60m"] {
        assert_eq!(bad.parse::<Window>(), Err(WindowError(bad.to_owned())));
    }
    assert_eq!(WindowError("2h".into()).to_string(), "\"2h\" is not a window: use 1m, 15m or 1h");
}

#[test]
fn a_summary_serializes_as_the_api_shows_it() {
    let pool = PoolAnalytics::new();
    let eu = pool.region_slot("eu");
    pool.record(3, Some(eu), [pool.endpoint_slot("eu/192.0.2.1")].into_iter(), Some(*b"DE"), Some(*b"EU"), 3);
    let json = serde_json::to_value(pool.summary(3, Window::FifteenMinutes)).unwrap();
    let want = serde_json::json!({
        "window": "15m",
        "answers": 1,
        "regions": [{ "name": "eu", "answers": 1, "share": 1.0 }],
        "endpoints": [{ "name": "eu/192.0.2.1", "answers": 1, "share": 1.0 }],
        "countries": [{ "code": "DE", "answers": 1, "share": 1.0 }],
        "continents": [{ "code": "EU", "answers": 1, "share": 1.0 }],
        "rcodes": [{ "rcode": "NXDOMAIN", "count": 1, "rate": 1.0 }],
    });
    assert_eq!(json, want);
}

#[test]
fn ticks_are_ten_second_buckets() {
    use std::time::Duration;
    assert_eq!((tick(Duration::ZERO), tick(Duration::from_millis(9_999)), tick(Duration::from_secs(10))), (0, 0, 1));
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Analytics>();
    assert_send_sync::<PoolAnalytics>();
}

#[test]
fn threads_racing_into_a_reused_bucket_may_lose_counts_but_never_mix_in_old_ones() {
    const PER_THREAD: u64 = 5_000;
    let pool = PoolAnalytics::new();
    record_n(&pool, 10, 1_000_000);
    let tick = 10 + RING_BUCKETS as u64;
    thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| (0..PER_THREAD).for_each(|_| record_n(&pool, tick, 1)));
        }
    });
    let counted = answers(&pool, tick, Window::OneMinute);
    assert!((1..=4 * PER_THREAD).contains(&counted), "{counted}");
}

#[test]
fn a_pools_ring_takes_about_one_and_a_half_megabytes() {
    let bytes = std::mem::size_of::<bucket::Bucket>() * RING_BUCKETS;
    assert!((1_400_000..1_600_000).contains(&bytes), "{bytes}");
}
