//! The voucher book over real HTTP: each site's terminals get a root-signed
//! book of the vouchers they may redeem, in bounded chunks that resume where
//! a download stopped and restart when HQ sealed a newer version.

use crate::common;

use common::{Backend, SignOptions, TestTerminal, spawn_app};
use lastmile_shared::id::SiteId;
use lastmile_shared::sync;
use lastmile_shared::voucher_book::{
    ROUTE_VOUCHER_BOOK, VOUCHER_BOOK_CHUNK_BYTES_MAX, VoucherBook, VoucherBookChunk,
    VoucherBookRequest,
};
use lastmile_shared::voucher_code::VoucherCode;

lastmile_tests::on_both_backends!(
    a_book_arrives_in_resumable_chunks_and_holds_every_voucher_by_its_code,
);

fn ask(terminal: &TestTerminal, request: VoucherBookRequest) -> VoucherBookChunk {
    let body = sync::to_cbor(&request);
    let bytes = terminal
        .signed_post(ROUTE_VOUCHER_BOOK, &body, &SignOptions::default())
        .expect("the voucher book answer");
    sync::from_cbor(&bytes).unwrap()
}

fn a_book_arrives_in_resumable_chunks_and_holds_every_voucher_by_its_code(backend: Backend) {
    let app = spawn_app(backend);
    // Issued before the site has a terminal: the book is built when asked.
    let issued = app.issue(1_100, "10", "partial");
    let terminal = app.terminal("shop-1", "site-1");

    let first = ask(&terminal, VoucherBookRequest::default());
    assert!(first.version > 0);
    assert_eq!(first.offset, 0);
    assert_eq!(first.bytes.len(), VOUCHER_BOOK_CHUNK_BYTES_MAX);
    assert!(first.total_bytes > VOUCHER_BOOK_CHUNK_BYTES_MAX as u64);
    // The connection dropped here; the next request says how far it got.
    let rest = ask(
        &terminal,
        VoucherBookRequest {
            held_version: 0,
            partial_version: first.version,
            partial_bytes: first.bytes.len() as u64,
        },
    );
    assert_eq!(
        (rest.version, rest.offset),
        (first.version, first.bytes.len() as u64)
    );
    let whole = [first.bytes.as_slice(), rest.bytes.as_slice()].concat();
    assert_eq!(whole.len() as u64, first.total_bytes);
    let site = SiteId::parse("site-1").unwrap();
    let (book, codes) =
        VoucherBook::open_for(&whole, &terminal.root(), None, Some(&site), None).unwrap();
    assert_eq!(book.vouchers.len(), issued.len());
    for voucher in &issued {
        let code = VoucherCode::parse(&voucher.code).unwrap();
        assert_eq!(book.vouchers[codes[&code]], voucher.qr_text);
    }

    // Held complete: nothing more to fetch.
    let held = ask(
        &terminal,
        VoucherBookRequest {
            held_version: book.version,
            ..VoucherBookRequest::default()
        },
    );
    assert_eq!(held.version, book.version);
    assert!(held.bytes.is_empty());

    // A new issuance reseals the book; a download of the old version starts over.
    let later = app.issue(1, "5", "single_use");
    let restarted = ask(
        &terminal,
        VoucherBookRequest {
            held_version: 0,
            partial_version: first.version,
            partial_bytes: first.bytes.len() as u64,
        },
    );
    assert!(restarted.version > book.version);
    assert_eq!(restarted.offset, 0);
    // An offset beyond the book is not trusted: it starts over too.
    let beyond = ask(
        &terminal,
        VoucherBookRequest {
            held_version: 0,
            partial_version: restarted.version,
            partial_bytes: restarted.total_bytes + 1,
        },
    );
    assert_eq!(beyond.offset, 0);
    let mut whole = Vec::new();
    let mut at = 0;
    while at < restarted.total_bytes {
        let chunk = ask(
            &terminal,
            VoucherBookRequest {
                held_version: book.version,
                partial_version: restarted.version,
                partial_bytes: at,
            },
        );
        assert_eq!(chunk.offset, at);
        at += chunk.bytes.len() as u64;
        whole.extend_from_slice(&chunk.bytes);
    }
    let (newer, _) = VoucherBook::open_for(
        &whole,
        &terminal.root(),
        Some(book.version),
        Some(&site),
        None,
    )
    .unwrap();
    assert_eq!(newer.vouchers.len(), issued.len() + 1);
    assert!(newer.vouchers.contains(&later[0].qr_text));

    // Another site's terminal gets its own book, which this one would refuse.
    let other = app.terminal("shop-2", "site-2");
    let theirs = ask(&other, VoucherBookRequest::default());
    assert!(theirs.version > 0);
    assert_ne!(theirs.version, newer.version);
}
