//! Real `.mmdb` files for tests, written with mmdb-writer in the shapes Meridian reads.

use std::collections::BTreeMap;

use ipnet::IpNet;
use mmdb_writer::{Value, Writer};

/// A network and what the database says of it.
pub struct Place {
    pub network: &'static str,
    pub country: &'static str,
    pub continent: Option<&'static str>,
    pub coordinates: Option<(f64, f64)>,
}

/// GeoIP2-City-shaped records: `country.iso_code`, `continent.code`, `location.*`.
pub fn city_db(places: &[Place]) -> Vec<u8> {
    let mut writer = Writer::new("Meridian-Test-City");
    for place in places {
        let mut record = BTreeMap::new();
        record.insert("country".to_owned(), Value::map([("iso_code", Value::from(place.country))]));
        if let Some(continent) = place.continent {
            record.insert("continent".to_owned(), Value::map([("code", Value::from(continent))]));
        }
        if let Some((lat, lon)) = place.coordinates {
            record.insert(
                "location".to_owned(),
                Value::map([("latitude", Value::from(lat)), ("longitude", Value::from(lon))]),
            );
        }
        let network: IpNet = place.network.parse().expect("test network");
        writer.insert_value(network, Value::map(record)).expect("insert");
    }
    writer.to_bytes().expect("write mmdb")
}

/// DB-IP-lite-shaped records: `{"country_code": "DE"}` only.
pub fn flat_db(places: &[(&str, &str)]) -> Vec<u8> {
    let mut writer = Writer::new("Meridian-Test-Country");
    for (network, country) in places {
        let network: IpNet = network.parse().expect("test network");
        writer.insert_value(network, Value::map([("country_code", Value::from(*country))])).expect("insert");
    }
    writer.to_bytes().expect("write mmdb")
}

/// GeoLite2-ASN-shaped records: `autonomous_system_number` and `autonomous_system_organization`.
pub fn asn_db(networks: &[(&str, u32)]) -> Vec<u8> {
    let mut writer = Writer::new("Meridian-Test-ASN");
    for (network, asn) in networks {
        let network: IpNet = network.parse().expect("test network");
        let record = Value::map([
            ("autonomous_system_number", Value::from(*asn)),
            ("autonomous_system_organization", Value::from("Example Networks")),
        ]);
        writer.insert_value(network, record).expect("insert");
    }
    writer.to_bytes().expect("write mmdb")
}
