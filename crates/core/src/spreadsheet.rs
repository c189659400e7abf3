//! Text files that come out of a spreadsheet: rosters, labelled photo sets, photo pairs. Excel
//! on a Chinese Windows saves "CSV" as GBK (GB18030), and "CSV UTF-8" with a byte-order mark;
//! both are read as the text they hold.

/// The text of a spreadsheet's CSV file without its byte-order mark: UTF-8, or GBK/GB18030.
/// None when the bytes are neither (a workbook saved as .xlsx, an image).
pub fn spreadsheet_text(bytes: &[u8]) -> Option<String> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Some(text.to_owned());
    }
    let (text, had_errors) = encoding_rs::GB18030.decode_without_bom_handling(bytes);
    (!had_errors).then(|| text.into_owned())
}

/// A CSV reader for a labelled set or a pairs file: flexible rows, fields trimmed, and each
/// line that begins with `#`, or is blank, read as a record of one field, `#`, which the
/// caller skips ([`is_comment`]). The csv crate's own comment handling (and its skipping of
/// blank lines) dated a record that follows skipped lines to the first of them, so an error
/// there named the wrong line; a comment's own text, quotes and commas and all, is never
/// parsed. A line inside a quoted field (a note over several lines) is the field's, whatever
/// it begins with; above the header, comments and blank lines are blank.
pub fn commented_csv_reader(text: &str) -> csv::Reader<std::io::Cursor<String>> {
    let (mut above_header, mut in_quotes) = (true, false);
    let mut kept = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        // CR LF read as LF: the csv crate dates a record after a CR LF to the line before
        let line = match line.strip_suffix("\r\n") {
            Some(bare) => &format!("{bare}\n"),
            None => line,
        };
        let skipped = !in_quotes && (line.trim_start().starts_with('#') || line.trim().is_empty());
        if !skipped {
            above_header = false;
            // a doubled quote inside a field toggles twice: only an odd count changes state
            in_quotes ^= line.matches('"').count() % 2 == 1;
            kept.push_str(line);
            continue;
        }
        let newline = if line.ends_with('\n') { "\n" } else { "" };
        if !above_header {
            kept.push('#');
        }
        kept.push_str(newline);
    }
    csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(std::io::Cursor::new(kept))
}

/// Whether a record of [`commented_csv_reader`] is a comment line.
pub fn is_comment(record: &csv::StringRecord) -> bool {
    record.len() == 1 && record.get(0) == Some("#")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lines the rows of `text` (comments left out) are dated to.
    fn row_lines(text: &str) -> Vec<u64> {
        commented_csv_reader(text)
            .records()
            .map(|rec| rec.unwrap())
            .filter(|rec| !is_comment(rec))
            .map(|rec| rec.position().unwrap().line())
            .collect()
    }

    #[test]
    fn a_record_after_comment_lines_is_dated_to_its_own_line() {
        let text = "# above\na,b\n# one\n  # two\nx,y\n# three\nz,w\n";
        let mut r = commented_csv_reader(text);
        assert_eq!(r.headers().unwrap(), vec!["a", "b"]);
        assert_eq!(row_lines(text), [5, 7]);
        // a blank line is skipped and counted the same way
        assert_eq!(row_lines("a,b\nx,y\n\n  \nz,w\n"), [2, 5]);
        // and in a file saved with CR LF line ends, as Excel saves it
        assert_eq!(row_lines("a,b\r\n# c\r\nx,y\r\n\r\nz,w\r\n"), [3, 5]);
        // a note over several lines keeps a line of it that begins with #, and the rows after
        let mut r = commented_csv_reader("a,b,note\nx,y,\"one\n# two\"\nz,w,\n");
        let rows: Vec<csv::StringRecord> = r.records().map(|rec| rec.unwrap()).collect();
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert_eq!(&rows[0][2], "one\n# two");
        assert_eq!(&rows[1][0], "z");
        // a comment holding quotes and commas is not parsed
        let mut r = commented_csv_reader("a,b\n# say \"x.jpg,\n# then\nx,y\n");
        let rows: Vec<csv::StringRecord> = r.records().map(|rec| rec.unwrap()).collect();
        assert_eq!(rows.iter().filter(|rec| !is_comment(rec)).count(), 1);
    }

    #[test]
    fn utf8_with_or_without_its_mark_and_gbk_are_read_and_a_workbook_is_not() {
        let utf8 = "file,defects\n照片/张三.jpg,glasses\n";
        assert_eq!(spreadsheet_text(utf8.as_bytes()).as_deref(), Some(utf8));
        let marked = [b"\xef\xbb\xbf".as_slice(), utf8.as_bytes()].concat();
        assert_eq!(spreadsheet_text(&marked).as_deref(), Some(utf8));
        let (gbk, _, _) = encoding_rs::GBK.encode(utf8);
        assert_ne!(&gbk[..], utf8.as_bytes());
        assert_eq!(spreadsheet_text(&gbk).as_deref(), Some(utf8));
        assert_eq!(
            spreadsheet_text(&[0x50, 0x4b, 0x03, 0x04, 0xff, 0xff, 0x81]),
            None
        );
    }
}
