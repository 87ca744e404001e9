//! `cash open|list|check|pay|close|report`.

use lastmile_shared::id::EntitlementId;
use lastmile_shared::money::{Currency, Money};
use lastmile_shared::roster::Delivery;
use lastmile_terminal::i18n::Text;
use lastmile_terminal::receipt::RECEIPT_COLUMNS_58MM;
use lastmile_terminal::{Error, Terminal};

use super::EXIT_OK;
use super::output::Output;
use super::redeem::{id_input, show_person};

#[derive(Debug, clap::Subcommand)]
pub enum CashCommand {
    /// Open a cash session with the float you counted (e.g. --float 5000).
    Open {
        /// The counted opening float in major units.
        #[arg(long, value_name = "AMOUNT")]
        float: String,
        /// Currency of the float; default: the terminal's only currency.
        #[arg(long, value_name = "CODE")]
        currency: Option<String>,
    },
    /// Show the site's distribution list and who has been paid.
    List,
    /// Identity check: show the roster name, photo and cash entitlements for an ID.
    Check {
        /// The ID card's QR text (Claim 169) or the ID number.
        #[arg(long, value_name = "ID")]
        id: String,
        /// The ID came from a scanner, not typed.
        #[arg(long)]
        scanned: bool,
    },
    /// Pay a person's cash entitlement in full from the open session.
    Pay {
        /// The ID card's QR text (Claim 169) or the ID number.
        #[arg(long, value_name = "ID")]
        id: String,
        /// The entitlement to pay.
        #[arg(long, value_name = "ENTITLEMENT")]
        entitlement: String,
        /// The ID came from a scanner, not typed.
        #[arg(long)]
        scanned: bool,
    },
    /// Close the session with the cash you counted; prints the end-of-day report.
    Close {
        /// The counted closing float in major units.
        #[arg(long, value_name = "AMOUNT")]
        counted: String,
    },
    /// Print the end-of-day report of a closed session again.
    Report {
        /// The session number.
        session: u64,
    },
}

/// Rows as aligned columns: each as wide as its widest cell (in
/// characters), the last one (amounts) set flush right.
fn columns<const N: usize>(rows: &[[String; N]]) -> String {
    let mut widths = [0; N];
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    rows.iter()
        .map(|row| {
            let cells: Vec<String> = row
                .iter()
                .zip(widths)
                .enumerate()
                .map(|(i, (cell, width))| {
                    let pad = " ".repeat(width - cell.chars().count());
                    if i + 1 == N {
                        format!("{pad}{cell}")
                    } else {
                        format!("{cell}{pad}")
                    }
                })
                .collect();
            cells.join("  ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn default_currency(terminal: &Terminal, requested: Option<&str>) -> Result<Currency, Error> {
    if let Some(code) = requested {
        return Currency::parse(code.trim()).map_err(|e| Error::CurrencyAmbiguous(e.to_string()));
    }
    let policy = terminal
        .policy()
        .ok_or(Error::NotProvisioned("terminal policy"))?;
    match policy.limits.as_slice() {
        [only] => Ok(only.currency),
        limits => Err(Error::CurrencyAmbiguous(
            limits
                .iter()
                .map(|l| l.currency.code())
                .collect::<Vec<_>>()
                .join(", "),
        )),
    }
}

pub fn run(terminal: &mut Terminal, command: CashCommand, out: &Output) -> anyhow::Result<u8> {
    match command {
        CashCommand::Open { float, currency } => {
            let currency = default_currency(terminal, currency.as_deref())?;
            let float = Money::parse(float.trim(), currency).map_err(Error::from)?;
            out.receipt(&terminal.open_cash_session(float)?);
        }
        CashCommand::List => {
            let list = terminal.distribution_list()?;
            if list.is_empty() && !out.json {
                eprintln!("{}", out.say(Text::CliNobodyOnList, &[]));
                return Ok(EXIT_OK);
            }
            out.show(&list, || {
                let rows: Vec<[String; 5]> = list
                    .iter()
                    .map(|line| {
                        [
                            if line.paid {
                                out.say(Text::CliPaidMark, &[])
                            } else {
                                "[    ]".to_owned()
                            },
                            line.name.clone(),
                            line.id_numbers.join("/"),
                            line.entitlement.entitlement.id.to_string(),
                            out.money(line.entitlement.entitlement.value),
                        ]
                    })
                    .collect();
                columns(&rows)
            });
        }
        CashCommand::Check { id, scanned } => {
            let person = terminal.identify_for_cash(id_input(&id, scanned))?;
            show_person(out, &person);
        }
        CashCommand::Pay {
            id,
            entitlement,
            scanned,
        } => {
            let entitlement = EntitlementId::parse(&entitlement).map_err(Error::from)?;
            let receipt = terminal
                .pay_cash(id_input(&id, scanned), &entitlement)
                .map_err(|e| e.for_entitlement(&entitlement, Delivery::Cash))?;
            out.receipt(&receipt);
        }
        CashCommand::Close { counted } => {
            let session = terminal.cash_session()?.ok_or(Error::NoCashSession)?;
            let counted =
                Money::parse(counted.trim(), session.float.currency).map_err(Error::from)?;
            let report = terminal.close_cash_session(counted)?;
            out.show(&report, || {
                report.render_text_in(out.language, RECEIPT_COLUMNS_58MM)
            });
        }
        CashCommand::Report { session } => {
            let report = terminal.cash_report(session)?;
            out.show(&report, || {
                report.render_text_in(out.language, RECEIPT_COLUMNS_58MM)
            });
        }
    }
    Ok(EXIT_OK)
}
