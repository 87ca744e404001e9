//! The receipt shown in `docs/` and pinned by the snapshot tests: a voucher redemption
//! accepted offline.

use lastmile_hardware::escpos::{Align, PaperWidth, QrMode, Receipt, ReceiptError, Style};

pub const VERIFICATION_QR: &str =
    "LM1:6BFOXN*TS0BI$ZD4N9:9S6RCVN5+O30K3/XIV0W23NTDEMWK4MI6UOS03CR8ZI$ZSX";

pub fn sample_receipt(paper: PaperWidth, qr: QrMode) -> Result<Vec<u8>, ReceiptError> {
    let mut receipt = Receipt::new(paper);
    receipt
        .align(Align::Center)
        .style(Style::TITLE)
        .line("DUKA LA MAMA NJERI")
        .style(Style::NORMAL)
        .line("Merchant M-10442 · Kisumu")
        .line("29 Nov 2026 14:32  Till 2")
        .align(Align::Left)
        .rule()
        .columns_line("Voucher", "LM-7Q4K-92XD")
        .columns_line("Programme", "Cash for food")
        .style(Style::BOLD)
        .columns_line("Amount", "KES 1,250.00")
        .style(Style::NORMAL)
        .columns_line("Remaining balance", "KES 3,750.00")
        .rule()
        .align(Align::Center)
        .style(Style {
            bold: true,
            underline: true,
            ..Style::NORMAL
        })
        .line("ACCEPTED OFFLINE — PENDING SYNC")
        .style(Style::NORMAL)
        .line("Reçu — Montant payé : 1 250,00 KES")
        .line("تم استلام الدفع، شكراً لكم")
        .qr(VERIFICATION_QR, qr)
        .line("Scan to verify this receipt")
        .feed(2)
        .cut();
    receipt.finish()
}
