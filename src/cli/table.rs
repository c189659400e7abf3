//! Text tables for the command line whose cells hold Chinese and English: each column is as
//! wide as its widest cell in terminal cells (a CJK character takes two), not in characters,
//! so `kiosk eval`'s columns stay straight under Chinese headings.

use unicode_width::UnicodeWidthStr;

#[derive(Clone, Copy)]
pub enum Align {
    Left,
    Right,
}

/// Rows of cells, laid out once all are in.
pub struct Table {
    aligns: Vec<Align>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table whose columns are aligned as `aligns` says (a cell past them: left).
    pub fn new(aligns: &[Align]) -> Self {
        Table {
            aligns: aligns.to_vec(),
            rows: Vec::new(),
        }
    }

    pub fn row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) {
        self.rows.push(cells.into_iter().map(Into::into).collect());
    }

    /// The rows as lines: every column as wide as its widest cell, a space between columns,
    /// no spaces after a row's last cell.
    pub fn lines(&self) -> Vec<String> {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                self.rows
                    .iter()
                    .filter_map(|r| r.get(c))
                    .map(|cell| cell.width())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        self.rows
            .iter()
            .map(|row| {
                let cells: Vec<String> = row
                    .iter()
                    .zip(&widths)
                    .enumerate()
                    .map(|(c, (cell, &width))| {
                        pad(
                            cell,
                            width,
                            self.aligns.get(c).copied().unwrap_or(Align::Left),
                        )
                    })
                    .collect();
                cells.join(" ").trim_end().to_owned()
            })
            .collect()
    }
}

/// `text` padded with spaces to `width` terminal cells.
fn pad(text: &str, width: usize, align: Align) -> String {
    let fill = " ".repeat(width.saturating_sub(text.width()));
    match align {
        Align::Left => format!("{text}{fill}"),
        Align::Right => format!("{fill}{text}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_as_wide_as_their_widest_cell_in_terminal_cells() {
        let mut t = Table::new(&[Align::Left, Align::Right, Align::Left]);
        t.row(["检查", "查出缺陷", "限值"]);
        t.row(["check", "defects caught", "limit"]);
        t.row(["头发不遮挡眉眼 hair_occlusion", "9/13", ">= 0.72"]);
        let lines = t.lines();
        // the second column ends in the same cell on every line
        let ends: Vec<usize> = lines
            .iter()
            .zip(["查出缺陷", "defects caught", "9/13"])
            .map(|(l, cell)| l.find(cell).map_or(0, |i| l[..i].width() + cell.width()))
            .collect();
        assert!(ends.iter().all(|&e| e == ends[0] && e > 0), "{lines:#?}");
        // the last cell is not padded
        assert!(lines[0].ends_with("限值"), "{lines:#?}");
    }
}
