//! `priority`: the pool's order as written: the first region serves while it can, the next
//! when it cannot, and traffic fails back as soon as the first can serve again.

use super::{Order, Pool};

pub(super) fn order(pool: &Pool) -> Order {
    Order::pool(pool)
}
