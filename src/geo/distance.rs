//! Great-circle distance, for nearest-region steering.

use super::Coordinates;

/// Mean Earth radius (IUGG), in kilometres.
const EARTH_RADIUS_KM: f64 = 6371.0088;

/// The haversine distance between two points, in kilometres.
pub fn km(a: Coordinates, b: Coordinates) -> f64 {
    let (lat1, lat2) = (a.lat.to_radians(), b.lat.to_radians());
    let dlat = lat2 - lat1;
    let dlon = (b.lon - a.lon).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_are_great_circle_kilometres_between_known_places() {
        let dublin = Coordinates { lat: 53.35, lon: -6.26 };
        let new_york = Coordinates { lat: 40.71, lon: -74.01 };
        let d = km(dublin, new_york);
        assert!((5050.0..5150.0).contains(&d), "{d}");
        assert_eq!(km(dublin, dublin), 0.0);
        let antipode = km(Coordinates { lat: 0.0, lon: 0.0 }, Coordinates { lat: 0.0, lon: 180.0 });
        assert!((antipode - 20015.0).abs() < 5.0, "{antipode}");
    }
}
