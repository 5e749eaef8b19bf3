//! The cold cost of online signing: a signature cache miss, per algorithm (the signed data of
//! a two-address pool answer built, then signed), and a hit (the data built, the cache
//! searched), for the "cold cost measured in a criterion bench per algorithm".
//!
//! Run: `cargo bench --bench signing`. Read the `time:` middle figure, per call.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use hickory_proto::rr::{Name, RecordType};
use meridian::dnssec::cache::SignatureCache;
use meridian::dnssec::key::{Algorithm, SigningKey};
use meridian::dnssec::rrsig::{self, Scratch, ToSign};
use meridian::dnssec::window::Window;

const OWNER: &[u8] = b"\x03www\x07example\x03com\x00";
const ADDRESSES: [[u8; 4]; 2] = [[192, 0, 2, 1], [192, 0, 2, 2]];

fn bench(c: &mut Criterion) {
    let zone = Name::from_ascii("example.com.").unwrap();
    let window = Window { inception: 1_700_000_000, expiration: 1_701_209_600 };
    let set = ToSign { owner: OWNER, rtype: RecordType::A, ttl: 30 };
    for (label, algorithm) in [("ecdsap256sha256", Algorithm::EcdsaP256Sha256), ("ed25519", Algorithm::Ed25519)] {
        let key = SigningKey::generate(&zone, algorithm, true).unwrap();
        let mut scratch = Scratch::default();
        c.bench_function(&format!("sign miss {label}"), |b| {
            b.iter(|| {
                rrsig::signed_data(&mut scratch, &key, window, set, ADDRESSES.iter().map(|a| &a[..]));
                black_box(rrsig::sign(&scratch, &key, set).unwrap())
            })
        });
        let cache = SignatureCache::new(16_384, 1);
        c.bench_function(&format!("sign hit {label}"), |b| {
            b.iter(|| {
                rrsig::signed_data(&mut scratch, &key, window, set, ADDRESSES.iter().map(|a| &a[..]));
                black_box(cache.signature(&scratch, &key, set).unwrap())
            })
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
