//! Payment channel text, IBANs and mobile numbers → a value or a specific
//! error, never a panic; whatever parses reads back to itself from its own
//! canonical forms.
#![no_main]

use lastmile_shared::payee::{Channel, Iban, Msisdn};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(channel) = Channel::parse_text(text) {
        assert_eq!(channel.to_text(), text, "parsed, but writes differently");
    }
    if let Ok(iban) = Iban::parse(text) {
        assert_eq!(
            Iban::parse(iban.as_str()),
            Ok(iban.clone()),
            "electronic form"
        );
        assert_eq!(
            Iban::parse(&iban.to_string()),
            Ok(iban.clone()),
            "print form"
        );
        let channel = format!("iban:{}", iban.as_str());
        assert!(Channel::parse_text(&channel).is_ok(), "{channel}");
    }
    if let Ok(msisdn) = Msisdn::parse(text) {
        assert_eq!(Msisdn::parse(msisdn.as_str()), Ok(msisdn));
    }
});
