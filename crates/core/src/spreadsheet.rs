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

#[cfg(test)]
mod tests {
    use super::*;

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
