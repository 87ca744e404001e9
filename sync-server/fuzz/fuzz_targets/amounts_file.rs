//! Amounts files (any bytes) through the real upload into a real SQLite
//! register with a few beneficiaries: an upload is a report or a specific
//! refusal, never a panic; a check changes nothing, whatever the file holds.
#![no_main]

use std::sync::OnceLock;

use lastmile_server::audit::Actor;
use lastmile_server::keys::{self, KeyDir};
use lastmile_server::registry::amounts::{self, Options};
use lastmile_server::registry::import::{self, Mapping};
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
        let dir =
            std::env::temp_dir().join(format!("lastmile-fuzz-amounts-{}", std::process::id()));
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
        let people = "beneficiary_id,name,national_id,household,household_role,site\n\
                      B-1,Amina,10000001,H-1,head,site-1\n\
                      B-2,Baraka,10000002,H-1,member,site-1\n\
                      B-3,Chiku,10000003,,,site-1\n";
        let mapping = Mapping::guess(&import::headers(people.as_bytes()).unwrap());
        import::import(
            &storage,
            &actor,
            "P-fuzz",
            "people.csv",
            people.as_bytes(),
            &mapping,
            import::Options::default(),
            NOW,
        )
        .unwrap();
        storage
    })
}

fuzz_target!(|data: &[u8]| {
    let storage = store();
    let actor = Actor::Operator("fuzz".to_owned());
    let options = Options { check_only: true };
    let _ = amounts::upload(
        storage, &actor, "P-fuzz", "2027-01", "fuzz.csv", data, options, NOW,
    );
    let current = storage
        .transaction(|tx| table::amount_file(tx.sql(), "P-fuzz", "2027-01"))
        .unwrap();
    assert!(current.is_none(), "a check applied something");
});
