//! Beneficiary files (any bytes) through the real importer into a real
//! SQLite register: an import is a report or a specific refusal, never a
//! panic; a check changes nothing, whatever the file holds.
#![no_main]

use std::sync::OnceLock;

use lastmile_server::audit::Actor;
use lastmile_server::keys::{self, KeyDir};
use lastmile_server::registry::import::{self, Mapping, Options};
use lastmile_server::registry::programmes::{self, NewProgramme, Target};
use lastmile_server::registry::sites;
use lastmile_server::storage::registry as table;
use lastmile_server::storage::{DatabaseUrl, Storage};
use lastmile_shared::id::IssuerId;
use libfuzzer_sys::fuzz_target;

const NOW: i64 = 1_800_000_000;

fn store() -> &'static Storage {
    static STORE: OnceLock<Storage> = OnceLock::new();
    STORE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("lastmile-fuzz-import-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let storage = Storage::open(&DatabaseUrl::Sqlite(dir.join("fuzz.sqlite"))).unwrap();
        let actor = Actor::Operator("fuzz".to_owned());
        let issuer = IssuerId::parse("fuzz").unwrap();
        keys::init(&storage, &KeyDir::new(&dir), &actor, &issuer, NOW).unwrap();
        sites::create(&storage, &actor, "site-1", "Site", NOW).unwrap();
        programmes::create(
            &storage,
            &actor,
            &NewProgramme {
                programme: "P-fuzz".to_owned(),
                name: "Fuzz".to_owned(),
                currency: "KES".to_owned(),
                issuer: "fuzz".to_owned(),
                channels: vec!["mobile".to_owned(), "bank".to_owned(), "cash".to_owned()],
                budget: "1000.00".to_owned(),
                starts_on: "2027-01-01".to_owned(),
                ends_on: None,
                target: Target::Household,
                household_max: Some(4),
                id_pattern: Some("99999999".to_owned()),
            },
            NOW,
        )
        .unwrap();
        storage
    })
}

fuzz_target!(|data: &[u8]| {
    let storage = store();
    let actor = Actor::Operator("fuzz".to_owned());
    let mapping = match import::headers(data) {
        Ok(headers) => Mapping::guess(&headers),
        Err(_) => Mapping::default(),
    };
    let options = Options {
        good_rows: true,
        check_only: true,
    };
    let _ = import::import(storage, &actor, "P-fuzz", "fuzz.csv", data, &mapping, options, NOW);
    let (count, _) = storage
        .transaction(|tx| table::beneficiary_counts(tx.sql(), "P-fuzz"))
        .unwrap();
    assert_eq!(count, 0, "a check imported something");
});
