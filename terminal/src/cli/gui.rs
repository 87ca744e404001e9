//! `lastmile-terminal gui`: the touch interface (the default when there is a display).

use std::path::PathBuf;

use lastmile_terminal::gui::{self, GuiOptions};

#[derive(Debug, Default, clap::Args)]
pub struct Args {
    /// Window size in logical pixels, e.g. 800x480 or 1280x800.
    #[arg(long, value_name = "WxH", value_parser = parse_size)]
    size: Option<(u32, u32)>,
    /// Fill the screen (kiosk terminals).
    #[arg(long)]
    fullscreen: bool,
    /// High-contrast colours for sunlight (saved for next time).
    #[arg(long)]
    high_contrast: bool,
    /// A training terminal: provisions the data directory with demo vouchers,
    /// a roster and operators (PIN 1234) if it is empty, and prints to a
    /// simulated printer. Prints the demo voucher codes.
    #[arg(long)]
    demo: bool,
    /// Quit after this many milliseconds (screenshots, start-up measurements).
    #[arg(long, value_name = "MS", hide = true)]
    quit_after_ms: Option<u64>,
}

pub fn parse_size(text: &str) -> Result<(u32, u32), String> {
    let (w, h) = text
        .split_once(['x', 'X'])
        .ok_or("expected WIDTHxHEIGHT, e.g. 800x480")?;
    let number = |t: &str| {
        t.trim()
            .parse::<u32>()
            .map_err(|_| format!("{t:?} is not a number of pixels"))
    };
    Ok((number(w)?, number(h)?))
}

/// Whether a window can be opened: an X11 or Wayland display, or the Linux
/// KMS backend chosen explicitly with `SLINT_BACKEND=linuxkms`.
pub fn display_available() -> bool {
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
        || std::env::var("SLINT_BACKEND").is_ok_and(|b| b.starts_with("linuxkms"))
}

pub fn run(args: Args, data_dir: PathBuf, language: &str) -> anyhow::Result<()> {
    if args.demo {
        let (_, demo) = gui::demo::open(
            &data_dir,
            std::sync::Arc::new(lastmile_terminal::SystemClock),
        )?;
        eprintln!(
            "demo terminal in {}: operator PIN {}",
            data_dir.display(),
            demo.operator_pin
        );
        eprintln!("  good voucher:      {}", demo.vouchers.good);
        eprintln!("  single use:        {}", demo.vouchers.single_use);
        eprintln!(
            "  named holder:      {}  (then scan ID {})",
            demo.vouchers.named, demo.id_with_entitlement
        );
        eprintln!("  revoked:           {}", demo.vouchers.revoked);
        eprintln!("  expired:           {}", demo.vouchers.expired);
        eprintln!("  ID with food:      {}", demo.id_with_entitlement);
    }
    gui::run(GuiOptions {
        data_dir,
        language: (language != "en" || std::env::var_os("LASTMILE_LANG").is_some())
            .then(|| language.to_owned()),
        high_contrast: args.high_contrast.then_some(true),
        demo: args.demo,
        size: args.size,
        fullscreen: args.fullscreen,
        quit_after_ms: args.quit_after_ms,
    })
}
