//! Voucher codes (`docs/voucher-format.md` §7): a code survives printing and
//! typing, every typo of one character or one swap is caught before any
//! lookup, and the voucher book is refused when tampered with or misdirected.

mod common;

use common::*;
use lastmile_shared::id::{MerchantId, SiteId, VoucherId};
use lastmile_shared::trust_list::{DocumentError, RootSigned};
use lastmile_shared::voucher;
use lastmile_shared::voucher_book::{VoucherBook, VoucherBookError};
use lastmile_shared::voucher_code::{VOUCHER_CODE_CHARS, VoucherCode, VoucherCodeError};
use proptest::prelude::*;

const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

fn code_chars(code: &VoucherCode) -> Vec<u8> {
    code.as_str().as_bytes().to_vec()
}

fn typed(chars: &[u8]) -> String {
    String::from_utf8(chars.to_vec()).unwrap()
}

proptest! {
    #[test]
    fn a_printed_code_reads_back_however_it_is_typed(text in "LM1:[0-9A-Z]{1,300}") {
        let code = VoucherCode::of_voucher(&text);
        let printed = code.to_string();
        prop_assert_eq!(printed.len(), VOUCHER_CODE_CHARS + 2);
        prop_assert_eq!(VoucherCode::parse(&printed), Ok(code));
        let sloppy = format!("  {} ", printed.to_lowercase().replace('-', " "));
        prop_assert_eq!(VoucherCode::parse(&sloppy), Ok(code));
        // A scanner's line ending is not part of the voucher.
        prop_assert_eq!(VoucherCode::of_voucher(&format!("{text}\r\n")), code);
    }

    #[test]
    fn every_single_wrong_character_is_caught(text in "LM1:[0-9A-Z]{1,300}", position in 0..VOUCHER_CODE_CHARS) {
        let chars = code_chars(&VoucherCode::of_voucher(&text));
        for &replacement in ALPHABET.iter().filter(|&&c| c != chars[position]) {
            let mut wrong = chars.clone();
            wrong[position] = replacement;
            prop_assert_eq!(VoucherCode::parse(&typed(&wrong)), Err(VoucherCodeError::Mistyped));
        }
    }

    #[test]
    fn every_swap_of_neighbours_is_caught(text in "LM1:[0-9A-Z]{1,300}") {
        let chars = code_chars(&VoucherCode::of_voucher(&text));
        for gap in [1, 2] {
            for i in 0..VOUCHER_CODE_CHARS - gap {
                if chars[i] == chars[i + gap] {
                    continue;
                }
                let mut swapped = chars.clone();
                swapped.swap(i, i + gap);
                prop_assert_eq!(VoucherCode::parse(&typed(&swapped)), Err(VoucherCodeError::Mistyped));
            }
        }
    }

    #[test]
    fn parsing_arbitrary_text_never_panics(text in "\\PC{0,80}") {
        let _ = VoucherCode::parse(&text);
    }
}

#[test]
fn look_alike_letters_read_as_the_digits_they_resemble() {
    // Find a code with a 1 and a 0 in it, then type them as l, I and O.
    let code = (0..)
        .map(|n| VoucherCode::of_voucher(&format!("LM1:{n}")))
        .find(|c| c.as_str().contains('1') && c.as_str().contains('0'))
        .unwrap();
    let typed = code
        .to_string()
        .replacen('1', "l", 1)
        .replacen('1', "I", 1)
        .replace('0', "O");
    assert_eq!(VoucherCode::parse(&typed), Ok(code));
}

#[test]
fn what_is_not_a_code_is_refused_with_what_to_do() {
    let parse = VoucherCode::parse;
    assert_eq!(parse("   "), Err(VoucherCodeError::Empty));
    assert_eq!(parse("V-2026-000123"), Err(VoucherCodeError::Reference));
    assert_eq!(
        parse("v-7F3A19C2D4E5B6A70812"),
        Err(VoucherCodeError::Reference)
    );
    assert_eq!(
        parse("7KQ2-M9XD-4HT"),
        Err(VoucherCodeError::WrongLength { found: 11 })
    );
    assert_eq!(
        parse(&"7".repeat(41)),
        Err(VoucherCodeError::WrongLength { found: 40 })
    );
    assert_eq!(
        parse("7KQ2-M9XD-4HTU"),
        Err(VoucherCodeError::BadCharacter('U'))
    );
    assert_eq!(
        parse("7KQ2-M9XD-4HT*"),
        Err(VoucherCodeError::BadCharacter('*'))
    );
    assert!(
        VoucherCodeError::Reference
            .to_string()
            .contains("type the 12-character code")
    );
}

#[test]
fn the_code_depends_on_the_signature_not_only_on_the_reference() {
    // Two vouchers with the same id and terms, signed by different keys:
    // the reference printed on receipts says nothing about either code.
    let claims = claims();
    let one = voucher::encode(&claims, &kid("ke-2026a"), &key(2));
    let other = voucher::encode(&claims, &kid("ke-2026a"), &key(9));
    assert_ne!(
        VoucherCode::of_voucher(&one),
        VoucherCode::of_voucher(&other)
    );
}

fn site() -> SiteId {
    SiteId::parse("site-kibera").unwrap()
}

fn book(version: u64, vouchers: Vec<String>) -> VoucherBook {
    VoucherBook {
        version,
        issued_at: T0,
        site: Some(site()),
        merchant: None,
        vouchers,
    }
}

fn texts(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let mut claims = claims();
            claims.id = VoucherId::parse(&format!("V-{i:04}")).unwrap();
            voucher::encode(&claims, &kid("ke-2026a"), &key(2))
        })
        .collect()
}

#[test]
fn a_book_opens_for_its_site_and_indexes_every_voucher_by_code() {
    let (root_kid, root_key) = root();
    let vouchers = texts(3);
    let sealed = book(2, vouchers.clone()).seal(&root_kid, &root_key);
    let (opened, codes) =
        VoucherBook::open_for(&sealed, &root_public(), Some(1), Some(&site()), None).unwrap();
    assert_eq!(opened.vouchers, vouchers);
    for (i, text) in vouchers.iter().enumerate() {
        assert_eq!(codes[&VoucherCode::of_voucher(text)], i);
    }
}

#[test]
fn a_tampered_misdirected_or_stale_book_is_refused() {
    let (root_kid, root_key) = root();
    let sealed = book(2, texts(2)).seal(&root_kid, &root_key);
    let open = |bytes: &[u8], site: Option<&SiteId>, held| {
        VoucherBook::open_for(bytes, &root_public(), held, site, None)
    };
    // Any changed byte of the signed document.
    for position in [sealed.len() / 3, sealed.len() / 2, sealed.len() - 5] {
        let mut tampered = sealed.clone();
        tampered[position] ^= 0x01;
        assert!(
            open(&tampered, Some(&site()), None).is_err(),
            "byte {position} changed"
        );
    }
    // Signed by another key than the terminal's root.
    let forged = book(2, texts(2)).seal(&root_kid, &key(7));
    assert!(matches!(
        open(&forged, Some(&site()), None),
        Err(VoucherBookError::Document(DocumentError::Envelope(_)))
    ));
    assert_eq!(
        open(&sealed, Some(&SiteId::parse("site-other").unwrap()), None).unwrap_err(),
        VoucherBookError::WrongScope
    );
    // A merchant's terminal with no site does not take a site's book.
    assert_eq!(
        VoucherBook::open_for(
            &sealed,
            &root_public(),
            None,
            None,
            Some(&MerchantId::parse("shop-017").unwrap())
        )
        .unwrap_err(),
        VoucherBookError::WrongScope
    );
    assert!(matches!(
        open(&sealed, Some(&site()), Some(2)),
        Err(VoucherBookError::Document(DocumentError::NotNewer { .. }))
    ));
}

#[test]
fn a_book_of_something_else_than_vouchers_or_with_a_repeated_code_is_refused() {
    let (root_kid, root_key) = root();
    let mut vouchers = texts(2);
    vouchers.push("LM1:NOT A VOUCHER".to_owned());
    let sealed = book(1, vouchers).seal(&root_kid, &root_key);
    assert!(matches!(
        VoucherBook::open_for(&sealed, &root_public(), None, Some(&site()), None),
        Err(VoucherBookError::BadVoucher { index: 2, .. })
    ));
    let one = texts(1).remove(0);
    let twice = vec![one.clone(), one];
    let sealed = book(1, twice).seal(&root_kid, &root_key);
    assert!(matches!(
        VoucherBook::open_for(&sealed, &root_public(), None, Some(&site()), None),
        Err(VoucherBookError::DuplicateCode(_))
    ));
}

#[test]
fn the_first_test_vector_has_the_code_the_format_document_gives() {
    // docs/voucher-format.md §7.1; computed from the document alone by an
    // independent implementation.
    let vectors: serde_json::Value =
        serde_json::from_str(include_str!("vectors/voucher-vectors.json")).unwrap();
    let first = &vectors["vectors"][0];
    assert_eq!(first["name"], "typical partial voucher");
    let code = VoucherCode::of_voucher(first["qr"].as_str().unwrap());
    assert_eq!(code.to_string(), "RWCW-VMNG-YGAW");
}
