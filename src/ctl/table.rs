//! Plain-text tables for people: a header, columns two spaces apart, numbers on the right.
//! Cells are the server's strings, so control characters (a newline, an ANSI escape in a region
//! name) are shown as `?` rather than let through to the terminal.

use std::fmt;

/// A table being filled row by row; `Display` lays it out.
pub struct Table {
    header: Vec<&'static str>,
    right: Vec<bool>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// An empty table with these column titles, every column aligned left.
    pub fn new(header: &[&'static str]) -> Self {
        Self { header: header.to_vec(), right: vec![false; header.len()], rows: Vec::new() }
    }

    /// Aligns the named columns on the right (counts, weights, times).
    pub fn right(mut self, columns: &[&str]) -> Self {
        for (title, right) in self.header.iter().zip(&mut self.right) {
            *right |= columns.contains(title);
        }
        self
    }

    /// Adds a row; missing cells are empty, cells past the header are dropped.
    pub fn row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) {
        let mut row: Vec<String> = cells.into_iter().map(|c| printable(&c.into())).collect();
        row.resize(self.header.len(), String::new());
        self.rows.push(row);
    }

    /// Whether no row was added.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    fn widths(&self) -> Vec<usize> {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        widths
    }

    fn write_line<S: AsRef<str>>(&self, f: &mut fmt::Formatter<'_>, widths: &[usize], cells: &[S]) -> fmt::Result {
        let mut line = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            let (cell, width) = (cell.as_ref(), widths[i]);
            if self.right[i] {
                line.push_str(&format!("{cell:>width$}"));
            } else {
                line.push_str(&format!("{cell:<width$}"));
            }
        }
        writeln!(f, "{}", line.trim_end())
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let widths = self.widths();
        self.write_line(f, &widths, &self.header)?;
        for row in &self.rows {
            self.write_line(f, &widths, row)?;
        }
        Ok(())
    }
}

fn printable(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { '?' } else { c }).collect()
}

#[cfg(test)]
mod tests {
    use super::Table;

    #[test]
    fn columns_are_as_wide_as_their_widest_cell_and_numbers_align_right() {
        let mut table = Table::new(&["REGION", "ENDPOINT", "WEIGHT", "HEALTH"]).right(&["WEIGHT"]);
        table.row(["eu-west", "192.0.2.1", "1", "up"]);
        table.row(["us", "2001:db8::1", "1000", "down"]);
        let expected = "\
REGION   ENDPOINT     WEIGHT  HEALTH
eu-west  192.0.2.1         1  up
us       2001:db8::1    1000  down
";
        assert_eq!(table.to_string(), expected);
    }

    #[test]
    fn lines_carry_no_trailing_spaces_and_short_rows_are_padded() {
        let mut table = Table::new(&["A", "DETAIL"]);
        table.row(["x"]);
        table.row(["longer", ""]);
        assert_eq!(table.to_string(), "A       DETAIL\nx\nlonger\n");
    }

    #[test]
    fn control_characters_from_the_server_are_not_passed_to_the_terminal() {
        let mut table = Table::new(&["NAME"]);
        table.row(["evil\x1b[2J\nname"]);
        assert_eq!(table.to_string(), "NAME\nevil?[2J?name\n");
    }

    #[test]
    fn an_empty_table_is_its_header() {
        let table = Table::new(&["POOL", "TTL"]).right(&["TTL"]);
        assert!(table.is_empty());
        assert_eq!(table.to_string(), "POOL  TTL\n");
    }
}
