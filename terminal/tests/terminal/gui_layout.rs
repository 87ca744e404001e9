//! Nothing a person must read is hidden: every screen, in every language,
//! at 800×480 and 1280×800, is walked and its laid-out geometry checked —
//! every text inside the window and inside each element that holds it,
//! and no text under a button that is not its own label. The messages a
//! person must act on (wrong PIN, locked, open the float first, saved, a
//! refused amount, a sync that cannot run) are among the texts checked, and
//! each is checked to be on screen.
//!
//! The selected translation is process-wide, so the tests of this binary
//! take turns (`LANGUAGE`).

use crate::support;

use std::fmt;
use std::sync::Mutex;

use i_slint_backend_testing::{AccessibleRole, ElementHandle, ElementQuery};
use lastmile_terminal::gui::Screen;
use lastmile_terminal::i18n::{self, Language, Text};
use slint::{ComponentHandle, Model};
use support::App;

static LANGUAGE: Mutex<()> = Mutex::new(());

/// Rounding in layouts: half a logical pixel is not a clipped letter.
const EDGE_SLACK_PX: f32 = 0.5;

/// An element where it was laid out.
#[derive(Debug, Clone, PartialEq)]
struct Placed {
    kind: String,
    label: String,
    x: f32,
    y: f32,
    width: f32,
    height: f32,
}

impl Placed {
    fn of(e: &ElementHandle) -> Placed {
        let (at, size) = (e.absolute_position(), e.size());
        Placed {
            kind: e.type_name().map(|t| t.to_string()).unwrap_or_default(),
            label: e
                .accessible_label()
                .map(|l| l.to_string())
                .unwrap_or_default(),
            x: at.x,
            y: at.y,
            width: size.width,
            height: size.height,
        }
    }

    fn has_area(&self) -> bool {
        self.width > 0.0 && self.height > 0.0
    }

    fn contains(&self, inner: &Placed) -> bool {
        inner.x >= self.x - EDGE_SLACK_PX
            && inner.y >= self.y - EDGE_SLACK_PX
            && inner.x + inner.width <= self.x + self.width + EDGE_SLACK_PX
            && inner.y + inner.height <= self.y + self.height + EDGE_SLACK_PX
    }

    fn overlaps(&self, other: &Placed) -> bool {
        self.x + EDGE_SLACK_PX < other.x + other.width
            && other.x + EDGE_SLACK_PX < self.x + self.width
            && self.y + EDGE_SLACK_PX < other.y + other.height
            && other.y + EDGE_SLACK_PX < self.y + self.height
    }
}

impl fmt::Display for Placed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {:?} at ({:.0},{:.0}) {:.0}×{:.0}",
            self.kind, self.label, self.x, self.y, self.width, self.height
        )
    }
}

fn descendants(e: &ElementHandle) -> Vec<ElementHandle> {
    let mut found = Vec::new();
    e.visit_descendants(|d| {
        found.push(d);
        std::ops::ControlFlow::<()>::Continue(())
    });
    found
}

/// What is wrong with the screen as laid out now (empty: nothing).
fn layout_problems(app: &App) -> Vec<String> {
    app.settle();
    let size = app.window.window().size().to_logical(1.0);
    let window = Placed {
        kind: "window".into(),
        label: String::new(),
        x: 0.0,
        y: 0.0,
        width: size.width,
        height: size.height,
    };
    let all = ElementQuery::from_root(&app.window)
        .match_descendants()
        .find_all();
    let is_text = |e: &ElementHandle| e.type_name().is_some_and(|t| t == "Text");
    // Lists scroll: what is in a Flickable may lie outside it, by design.
    let scrolled: Vec<Placed> = all
        .iter()
        .filter(|e| e.type_name().is_some_and(|t| t == "Flickable"))
        .flat_map(|f| descendants(f).iter().map(Placed::of).collect::<Vec<_>>())
        .collect();
    let toast = app.window.get_toast().to_string();
    let texts: Vec<Placed> = all
        .iter()
        .filter(|e| is_text(e))
        .map(Placed::of)
        .filter(|t| t.has_area() && !t.label.is_empty())
        .collect();
    let buttons: Vec<Placed> = all
        .iter()
        .filter(|e| e.accessible_role() == Some(AccessibleRole::Button))
        .map(Placed::of)
        .filter(Placed::has_area)
        .collect();

    let mut problems = Vec::new();
    for text in &texts {
        let in_list = scrolled.contains(text);
        let inside = if in_list {
            text.x >= -EDGE_SLACK_PX && text.x + text.width <= window.width + EDGE_SLACK_PX
        } else {
            window.contains(text)
        };
        if !inside {
            problems.push(format!("{text} is outside the window"));
        }
        if in_list || text.label == toast {
            continue;
        }
        for button in &buttons {
            if button.overlaps(text) && !button.contains(text) {
                problems.push(format!("{text} is under {button}"));
            }
        }
    }
    for holder in &all {
        let outer = Placed::of(holder);
        if !outer.has_area() || is_text(holder) {
            continue;
        }
        let holder_scrolls = scrolled.contains(&outer);
        for inner in descendants(holder).iter().filter(|d| is_text(d)) {
            let inner = Placed::of(inner);
            if !inner.has_area() || inner.label.is_empty() {
                continue;
            }
            if !holder_scrolls && scrolled.contains(&inner) {
                continue;
            }
            if !outer.contains(&inner) {
                problems.push(format!("{inner} sticks out of {outer}"));
            }
        }
    }
    problems.dedup();
    problems
}

/// Checks the screen as it is now: each of `must_show` is on it, and no
/// text is hidden or cut.
fn look(app: &App, problems: &mut Vec<String>, scene: &str, must_show: &[String]) {
    for text in must_show {
        assert!(!text.is_empty(), "{scene}: an empty message");
        if !app.has(text) {
            problems.push(format!("{scene}: {text:?} is not on screen"));
        }
    }
    problems.extend(
        layout_problems(app)
            .into_iter()
            .map(|p| format!("{scene}: {p}")),
    );
}

/// Walks every screen (and the messages people must read) in one language
/// and size, collecting what is hidden or cut.
fn walk(language: Language, width: f32, height: f32) -> Vec<String> {
    let app = App::start(width, height, language.code());
    let tr = |msgid: &'static str| i18n::translate(language, msgid).to_owned();
    let mut problems = Vec::new();
    let mut look =
        |app: &App, scene: &str, must_show: &[String]| look(app, &mut problems, scene, must_show);

    look(&app, "login", &[]);
    // A wrong PIN, then the lock: both said on the login screen.
    app.type_digits("9999");
    app.window.invoke_pin_entered(app.window.get_pin());
    look(
        &app,
        "wrong PIN",
        &[app.window.get_login_error().to_string()],
    );
    for _ in 1..lastmile_terminal::operator::PIN_FAILURES_MAX {
        app.window.invoke_pin_entered("9999".into());
    }
    look(&app, "locked", &[app.window.get_login_error().to_string()]);

    let app = App::start(width, height, language.code());
    app.login();
    look(&app, "home", &[]);
    let v = app.demo.vouchers.clone();
    app.window.invoke_navigate(Screen::Scan);
    app.window.set_manual_code("LM1:".into());
    look(&app, "scan", &[]);
    for (scene, code) in [
        ("verdict good", &v.good),
        ("verdict amber", &v.named),
        ("verdict red", &v.revoked),
        ("verdict unknown key", &v.unknown_key),
        ("verdict damaged", &v.forged),
    ] {
        app.scan(code);
        look(&app, scene, &[app.window.get_verdict().message.to_string()]);
    }
    app.scan(&v.good);
    app.window.invoke_redeem_part();
    app.type_digits("9999");
    look(
        &app,
        "amount refused",
        &[app.window.get_amount_error().to_string()],
    );
    for _ in 0..4 {
        app.window.invoke_amount_key("⌫".into());
    }
    app.type_digits("500");
    look(&app, "amount", &[]);
    app.window.invoke_amount_accepted();
    app.wait_armed();
    look(&app, "confirm", &[]);
    app.paper_out
        .store(true, std::sync::atomic::Ordering::SeqCst);
    app.window.invoke_redeem_confirmed();
    look(&app, "receipt paper out", &[tr("PAPER OUT")]);
    app.paper_out
        .store(false, std::sync::atomic::Ordering::SeqCst);
    app.window.invoke_print_retry();
    look(&app, "receipt printed", &[tr("Receipt printed")]);
    app.scan(app.demo.id_with_entitlement);
    look(&app, "id redemption", &[]);
    app.window.invoke_navigate(Screen::CashList);
    look(
        &app,
        "cash list, no float",
        &[tr("Open the cash float before paying anyone.")],
    );
    app.window.invoke_navigate(Screen::CashFloat);
    look(&app, "float to open", &[]);
    app.type_digits("1000");
    app.window.invoke_float_open();
    look(&app, "cash list", &[]);
    let joseph = app
        .window
        .get_cash_rows()
        .iter()
        .find(|r| r.name == "Joseph Otieno")
        .expect("Joseph is on the list");
    app.window.invoke_cash_selected(joseph.id.clone());
    app.wait_armed();
    look(
        &app,
        "cash identity, float too small",
        &[app.window.get_cash_error().to_string()],
    );
    app.window.invoke_navigate(Screen::CashFloat);
    app.type_digits("900");
    app.window.invoke_float_close();
    look(&app, "float closed", &[]);
    app.window.invoke_navigate(Screen::History);
    look(&app, "history", &[]);
    app.window.invoke_navigate(Screen::Sync);
    app.window.invoke_sync_now();
    look(
        &app,
        "sync that cannot run",
        &[i18n::text(language, Text::SyncNoServer).to_owned()],
    );
    app.window.invoke_navigate(Screen::Settings);
    app.window.invoke_paper_chosen(80);
    look(
        &app,
        "settings saved",
        &[i18n::text(language, Text::Saved).to_owned()],
    );
    problems
}

fn every_screen_at(width: f32, height: f32) {
    let _turn = LANGUAGE.lock().unwrap_or_else(|e| e.into_inner());
    let problems: Vec<String> = Language::ALL
        .into_iter()
        .flat_map(|language| {
            walk(language, width, height)
                .into_iter()
                .map(move |p| format!("[{} {width}×{height}] {p}", language.code()))
        })
        .collect();
    assert!(
        problems.is_empty(),
        "{} layout problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn nothing_is_hidden_or_cut_at_800x480() {
    every_screen_at(800.0, 480.0);
}

#[test]
fn nothing_is_hidden_or_cut_at_1280x800() {
    every_screen_at(1280.0, 800.0);
}

#[test]
fn the_home_grid_is_mirrored_in_arabic() {
    let _turn = LANGUAGE.lock().unwrap_or_else(|e| e.into_inner());
    let column_of_scan = |language: Language| {
        let app = App::start(800.0, 480.0, language.code());
        app.login();
        app.settle();
        let scan = app.find(i18n::translate(language, "Scan voucher"));
        let settings = app.find(i18n::translate(language, "Settings"));
        (scan.absolute_position().x, settings.absolute_position().x)
    };
    let (scan_en, settings_en) = column_of_scan(Language::English);
    let (scan_ar, settings_ar) = column_of_scan(Language::Arabic);
    assert!(scan_en < settings_en, "left to right: scanning comes first");
    assert!(
        scan_ar > settings_ar,
        "right to left: scanning comes first, on the right"
    );
    assert!(
        settings_ar < scan_en + 1.0,
        "settings in the first column from the left"
    );
}
