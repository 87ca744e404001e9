//! Compiles the Slint interface (`ui/app.slint`) into Rust, with the
//! translations from `lang/<language>/LC_MESSAGES/lastmile-terminal.po`
//! bundled into the binary, so nothing is read from system paths at run time.

fn main() {
    let manifest = std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    // Cargo watches a directory's own timestamp only: name every .po file.
    println!("cargo:rerun-if-changed=lang");
    for language in std::fs::read_dir(manifest.join("lang"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let po = language
            .path()
            .join("LC_MESSAGES")
            .join("lastmile-terminal.po");
        if po.exists() {
            println!("cargo:rerun-if-changed={}", po.display());
        }
    }
    let config = slint_build::CompilerConfiguration::new()
        .with_style("fluent".into())
        .with_bundled_translations(manifest.join("lang"))
        // One msgid means one text everywhere (no per-component msgctxt).
        .with_default_translation_context(slint_build::DefaultTranslationContext::None)
        // Element ids for Slint's testing backend (`ElementHandle::find_by_element_id`).
        // It costs a few kilobytes of metadata and keeps one build for the binary and the tests.
        .with_debug_info(true);
    slint_build::compile_with_config("ui/app.slint", config).expect("ui/app.slint must compile");
}
