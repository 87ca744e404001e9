//! The frame every console page shares: a skip link, the sections this
//! person's role may open, who is signed in, and the page; plus the style
//! sheet and the small script for live updates, both served by the server.

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::Visit;
use super::i18n::t;
use crate::people::{Language, Permission};

/// The sections, in the order of the navigation: (key, path, permission).
pub const SECTIONS: [(&str, &str, Permission); 16] = [
    ("dashboard", "/console", Permission::ViewTerminals),
    (
        "programmes",
        "/console/programmes",
        Permission::ViewProgrammes,
    ),
    ("signals", "/console/signals", Permission::ViewBeneficiaries),
    ("terminals", "/console/terminals", Permission::ViewTerminals),
    ("vouchers", "/console/vouchers", Permission::ViewVouchers),
    ("cases", "/console/cases", Permission::ViewCases),
    ("ledger", "/console/ledger", Permission::ViewLedger),
    ("payments", "/console/payments", Permission::ViewPayments),
    ("proposals", "/console/proposals", Permission::ViewProposals),
    ("alarms", "/console/alarms", Permission::ViewAlarms),
    ("jobs", "/console/jobs", Permission::ViewAlarms),
    ("limits", "/console/limits", Permission::ViewLimits),
    ("keys", "/console/keys", Permission::ViewKeys),
    (
        "id_authorities",
        "/console/id-authorities",
        Permission::ViewKeys,
    ),
    ("users", "/console/users", Permission::OwnTokens),
    ("audit", "/console/audit", Permission::ViewAudit),
];

/// A whole page for a signed-in person; `current` is the section's key.
pub fn page(visit: &Visit, current: &str, title: &str, body: Markup) -> Markup {
    let lang = visit.caller.language;
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (t(lang, "app")) }
                link rel="stylesheet" href="/console/static/console.css";
                script src="/console/static/console.js" defer {}
            }
            body {
                a.skip href="#main" { (t(lang, "skip")) }
                header {
                    span.brand { (t(lang, "app")) }
                    nav aria-label=(t(lang, "nav")) {
                        ul {
                            @for (key, path, permission) in SECTIONS {
                                @if visit.caller.may(permission) {
                                    li {
                                        @if key == current {
                                            a href=(path) aria-current="page" { (t(lang, key)) }
                                        } @else {
                                            a href=(path) { (t(lang, key)) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    form.who method="post" action="/console/logout" {
                        span {
                            (t(lang, "signed_in_as")) " "
                            strong { (visit.caller.display_name) }
                            " (" (visit.caller.role.code()) ")"
                        }
                        (csrf_field(visit))
                        button type="submit" { (t(lang, "sign_out")) }
                    }
                }
                div #changed role="status" aria-live="polite" hidden {}
                main #main tabindex="-1" {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// A page for someone not signed in (the login page, an error).
pub fn bare(lang: Language, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (t(lang, "app")) }
                link rel="stylesheet" href="/console/static/console.css";
            }
            body.bare {
                main #main {
                    p.brand { (t(lang, "app")) }
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// The hidden CSRF field every form carries.
pub fn csrf_field(visit: &Visit) -> Markup {
    html! { input type="hidden" name="csrf" value=(visit.csrf); }
}

/// A notice above a page's content (after an action).
pub fn notice(text: &str) -> Markup {
    html! { p.notice role="status" { (text) } }
}

/// An error above a form.
pub fn error(text: &str) -> Markup {
    html! { p.error role="alert" { (text) } }
}

/// A Unix time as `YYYY-MM-DD HH:MM UTC`.
pub fn time(at: i64) -> String {
    let secs = at.rem_euclid(86_400);
    format!(
        "{} {:02}:{:02} UTC",
        crate::calendar::format_date(at),
        secs / 3600,
        (secs % 3600) / 60
    )
}

/// Money in minor units as `KES 1,234.50`.
pub fn money(minor: i64, currency: &str) -> String {
    match lastmile_shared::money::Currency::parse(currency) {
        Ok(currency) => lastmile_shared::money::Money::new(minor, currency).to_string(),
        Err(_) => format!("{minor} {currency}"),
    }
}

/// Money in minor units for people, grouped in the page's language:
/// `KES 250,000.00`, or `KES 250 000,00` in French.
pub fn amount(lang: Language, minor: i64, currency: &str) -> String {
    match lastmile_shared::money::Currency::parse(currency) {
        Ok(currency) => {
            let money = lastmile_shared::money::Money::new(minor, currency);
            match lang {
                Language::En => money.display_grouped(',', '.'),
                Language::Fr => money.display_grouped('\u{202f}', ','),
            }
        }
        Err(_) => format!("{minor} {currency}"),
    }
}

/// A value for a query string, percent-encoded.
pub fn query_value(text: &str) -> String {
    serde_urlencoded::to_string([("", text)])
        .map(|s| s.trim_start_matches('=').to_owned())
        .unwrap_or_default()
}

/// Links to the previous and next pages of a list.
pub fn pager(lang: Language, base: &str, offset: u64, limit: u32, shown: usize) -> Markup {
    let sep = if base.contains('?') { '&' } else { '?' };
    html! {
        nav.pager aria-label="pages" {
            @if offset > 0 {
                a href=(format!("{base}{sep}offset={}", offset.saturating_sub(u64::from(limit)))) { "← " (t(lang, "newer")) }
            }
            @if shown == limit as usize {
                a href=(format!("{base}{sep}offset={}", offset + u64::from(limit))) { (t(lang, "older")) " →" }
            }
        }
    }
}

pub const CSS: &str = r#"
:root { --ink: #1b1f24; --muted: #4a5360; --line: #c9ced6; --bg: #f6f7f9; --accent: #0b5cad;
  --ok: #136c2e; --bad: #a4161a; --warn: #7a4d00; font-family: "DejaVu Sans", system-ui, sans-serif; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: var(--bg); font-size: 16px; line-height: 1.45; }
a { color: var(--accent); }
:focus-visible { outline: 3px solid #f0a500; outline-offset: 2px; }
.skip { position: absolute; left: -999px; } .skip:focus { left: 8px; top: 8px; background: #fff; padding: 6px; z-index: 9; }
header { display: flex; flex-wrap: wrap; gap: 8px 20px; align-items: center; padding: 10px 20px; background: #102a43; color: #fff; }
header a { color: #fff; text-decoration: none; padding: 6px 8px; border-radius: 4px; display: inline-block; }
header a[aria-current] { background: #fff; color: #102a43; font-weight: bold; }
header ul { list-style: none; display: flex; flex-wrap: wrap; gap: 4px; margin: 0; padding: 0; }
.brand { font-weight: bold; font-size: 18px; }
.who { margin-left: auto; display: flex; gap: 10px; align-items: center; }
main { padding: 16px 20px 40px; max-width: 1240px; }
h1 { font-size: 24px; margin: 6px 0 14px; } h2 { font-size: 19px; margin: 22px 0 8px; }
table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line); }
th, td { text-align: left; padding: 7px 9px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #e9edf2; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 12px; }
.tile { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 12px 14px; }
.tile b { display: block; font-size: 30px; } .tile.alert b { color: var(--bad); }
form.inline { display: inline; }
form.card, .card { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 12px 14px; margin: 12px 0; }
label { display: block; font-weight: 600; margin: 8px 0 3px; }
input, select, textarea, button { font: inherit; padding: 7px 9px; border: 1px solid #8a94a3; border-radius: 4px; }
textarea { width: 100%; min-height: 4em; }
button { background: var(--accent); color: #fff; border-color: var(--accent); cursor: pointer; min-height: 40px; }
button.secondary { background: #fff; color: var(--accent); }
button.danger { background: var(--bad); border-color: var(--bad); }
.who button { background: transparent; border-color: #fff; }
.notice { background: #e3f4e8; border-left: 5px solid var(--ok); padding: 8px 12px; }
.error { background: #fbe4e4; border-left: 5px solid var(--bad); padding: 8px 12px; }
#changed { background: #fff6dc; border-left: 5px solid var(--warn); padding: 8px 20px; margin: 0; }
.status-open, .status-pending { color: var(--warn); font-weight: 600; }
.status-revoked, .status-rejected, .bad { color: var(--bad); font-weight: 600; }
.status-resolved, .status-approved, .ok { color: var(--ok); font-weight: 600; }
.evidence { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; }
.evidence dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 10px; margin: 0; }
.evidence dt { color: var(--muted); } .evidence dd { margin: 0; overflow-wrap: anywhere; }
code, .mono { font-family: "DejaVu Sans Mono", monospace; font-size: 14px; overflow-wrap: anywhere; }
.code { font-size: 28px; letter-spacing: 2px; }
.pager { display: flex; gap: 16px; margin: 10px 0; }
.filters { display: flex; flex-wrap: wrap; gap: 10px; align-items: end; }
.filters label { margin: 0; }
body.bare main { max-width: 420px; margin: 8vh auto; background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 20px 26px; }
body.bare input { width: 100%; } body.bare button { margin-top: 14px; width: 100%; }
.tile.money b { font-size: 24px; }
.card > h2:first-of-type, .card > h3:first-of-type { margin-top: 2px; }
ul.grid { list-style: none; padding: 0; }
ul.who-list { margin: 0; padding-left: 1.1em; } ul.who-list a { white-space: nowrap; }
.keep { overflow-wrap: normal; word-break: normal; } .nowrap { white-space: nowrap; }
.facts + .tiles, .tiles + h2 { margin-top: 12px; }
.wide { overflow-x: auto; max-width: 100%; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 14px; margin: 0; background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 12px 14px; }
.facts dt { color: var(--muted); } .facts dd { margin: 0; overflow-wrap: anywhere; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(230px, 1fr)); gap: 4px 14px; }
.grid label { margin-top: 6px; } .grid input, .grid select { width: 100%; }
.hint { color: var(--muted); font-size: 14px; margin: 2px 0; }
.actions { display: flex; flex-wrap: wrap; gap: 10px; margin-top: 12px; align-items: center; }
.links { display: flex; flex-wrap: wrap; gap: 6px 18px; margin: 10px 0; }
.warn { background: #fff6dc; border-left: 5px solid var(--warn); padding: 8px 12px; }
.status-draft, .status-submitted, .status-excluded { color: var(--warn); font-weight: 600; }
.status-active { color: var(--ok); font-weight: 600; } .status-closed, .status-cancelled, .status-inactive { color: var(--muted); font-weight: 600; }
ol.channels { margin: 0; padding-left: 1.4em; } ol.channels li { margin: 2px 0; }
td form { display: flex; flex-wrap: wrap; gap: 4px; align-items: center; } td form input { min-width: 0; width: 10em; }
td form label { margin: 0; }
table.money td.num { white-space: nowrap; }
tr.group th { background: #f3f5f8; color: var(--muted); font-weight: 600; }
.status-paid { color: var(--ok); font-weight: 600; } .status-failed, .status-down { color: var(--bad); font-weight: 600; }
.status-batched, .status-sent, .status-accepted { color: var(--warn); font-weight: 600; } .status-rerouted { color: var(--muted); font-weight: 600; }
.check label, label.check { font-weight: normal; display: flex; gap: 8px; align-items: center; }
@media (max-width: 820px) { .evidence { grid-template-columns: 1fr; } .who { margin-left: 0; } table { font-size: 15px; } }
"#;

/// Live updates: the dashboard's numbers follow the server's events; a page
/// with live parts (`data-live` names its stream, `data-fragment` each
/// part) has them replaced by the server's new rendering; any other page
/// says that something changed, with a link to reload.
pub const SCRIPT: PreEscaped<&str> = PreEscaped(
    r#"
(function () {
  if (!window.EventSource) return;
  var last = null;
  var live = document.querySelector('[data-live]');
  var source = new EventSource(live ? live.getAttribute('data-live') : '/console/events');
  // A browser keeps at most six connections to a server: a stream left open
  // by a page being left (or kept in the back-forward cache) would hold one.
  window.addEventListener('pagehide', function () { source.close(); });
  source.addEventListener('counts', function (e) {
    var counts = JSON.parse(e.data);
    var tiles = document.querySelectorAll('[data-count]');
    tiles.forEach(function (el) {
      var v = counts[el.getAttribute('data-count')];
      if (v !== undefined && el.textContent !== String(v)) el.textContent = String(v);
    });
    var key = JSON.stringify(counts);
    if (last !== null && key !== last && tiles.length === 0) {
      var box = document.getElementById('changed');
      if (box) {
        box.hidden = false;
        box.innerHTML = '';
        var a = document.createElement('a');
        a.href = location.href; a.textContent = box.getAttribute('data-text') || 'New data: reload';
        box.appendChild(a);
      }
    }
    last = key;
  });
  // Parts the server rendered again (escaped like every page): each one
  // that changed replaces the part of the same name.
  var shown = {};
  source.addEventListener('fragments', function (e) {
    var parts = JSON.parse(e.data);
    Object.keys(parts).forEach(function (name) {
      var el = document.querySelector('[data-fragment="' + name + '"]');
      if (el && shown[name] !== parts[name]) {
        el.innerHTML = parts[name];
        shown[name] = parts[name];
      }
    });
  });
})();
"#,
);
