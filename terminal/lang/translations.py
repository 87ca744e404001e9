#!/usr/bin/env python3
"""Writes lang/<lang>/LC_MESSAGES/lastmile-terminal.po from the table below.

The msgids are the @tr("...") strings of ui/*.slint (English is the source
language). Run `python3 lang/translations.py` after changing either; it
fails if a string of the .slint files has no translation here, so a new
label cannot ship untranslated.
"""
import pathlib
import re
import sys

T = {
"Accepted offline — pending until the next sync": ("Accepté hors ligne — en attente de la prochaine synchronisation", "Imekubaliwa nje ya mtandao — inasubiri usawazishaji ujao", "مقبول دون اتصال — معلّق حتى المزامنة القادمة"),
"All confirmed": ("Tout est confirmé", "Zote zimethibitishwa", "الكل مؤكَّد"),
"All confirmed by the server": ("Tout est confirmé par le serveur", "Zote zimethibitishwa na seva", "الكل مؤكَّد من الخادم"),
"Already paid. Do not pay twice.": ("Déjà payé. Ne payez pas deux fois.", "Tayari amelipwa. Usilipe mara mbili.", "مدفوع مسبقًا. لا تدفع مرتين."),
"Amount": ("Montant", "Kiasi", "المبلغ"),
"At most {}": ("Au plus {}", "Isizidi {}", "بحد أقصى {}"),
"At most {} can be paid on this voucher until the next sync.": ("Au plus {} peut être payé sur ce bon avant la prochaine synchronisation.", "Si zaidi ya {} inaweza kulipwa kwa vocha hii hadi usawazishaji ujao.", "لا يمكن دفع أكثر من {} على هذه القسيمة حتى المزامنة القادمة."),
"Available": ("Disponible", "Inapatikana", "متاح"),
"Back": ("Retour", "Rudi", "رجوع"),
"Balance on voucher": ("Solde du bon", "Salio la vocha", "رصيد القسيمة"),
"Barcode scanner port": ("Port du lecteur de codes-barres", "Mlango wa skana ya msimbo", "منفذ ماسح الباركود"),
"CHECK": ("À VÉRIFIER", "KAGUA", "تحقّق"),
"Camera preview": ("Aperçu de la caméra", "Onyesho la kamera", "معاينة الكاميرا"),
"Camera, scanner or typing": ("Caméra, lecteur ou saisie", "Kamera, skana au kuandika", "كاميرا أو ماسح أو كتابة"),
"Cancel": ("Annuler", "Ghairi", "إلغاء"),
"Cash float": ("Fonds de caisse", "Fedha za mwanzo", "صندوق النقد"),
"Cash payout": ("Paiement en espèces", "Malipo ya fedha taslimu", "صرف نقدي"),
"Check": ("Vérifier", "Kagua", "تحقّق"),
"Check the person": ("Vérifiez la personne", "Mkague mtu", "تحقّق من الشخص"),
"Check the printer cable and power, then press Retry. The payment is saved.": ("Vérifiez le câble et l'alimentation de l'imprimante, puis appuyez sur Réessayer. Le paiement est enregistré.", "Kagua waya na umeme wa printa, kisha bonyeza Jaribu tena. Malipo yamehifadhiwa.", "تحقّق من كابل الطابعة والكهرباء، ثم اضغط إعادة المحاولة. الدفعة محفوظة."),
"Checking…": ("Vérification…", "Inakagua…", "جارٍ التحقق…"),
"Close float with this count": ("Clôturer la caisse avec ce montant", "Funga hesabu kwa kiasi hiki", "أغلق الصندوق بهذا العدّ"),
"Confirm": ("Confirmer", "Thibitisha", "تأكيد"),
"Confirm payment": ("Confirmer le paiement", "Thibitisha malipo", "تأكيد الدفع"),
"Confirmed": ("Confirmé", "Imethibitishwa", "مؤكَّد"),
"Confirmed by the server": ("Confirmé par le serveur", "Imethibitishwa na seva", "مؤكَّد من الخادم"),
"Connection": ("Connexion", "Muunganisho", "الاتصال"),
"Continue": ("Continuer", "Endelea", "متابعة"),
"Count the cash in the box": ("Comptez l'argent dans la caisse", "Hesabu pesa zilizo kwenye sanduku", "عُدّ النقود في الصندوق"),
"Count the cash you start with": ("Comptez l'argent de départ", "Hesabu pesa unazoanza nazo", "عُدّ النقود التي تبدأ بها"),
"Counted": ("Compté", "Zilizohesabiwa", "المعدود"),
"Decimal point": ("Virgule décimale", "Nukta ya desimali", "الفاصلة العشرية"),
"Delete": ("Effacer", "Futa", "حذف"),
"Difference": ("Écart", "Tofauti", "الفرق"),
"Distribution list and float": ("Liste de distribution et caisse", "Orodha ya ugawaji na fedha", "قائمة التوزيع والصندوق"),
"Does the face match the photo, and the name and number match their ID card?": ("Le visage correspond-il à la photo, et le nom et le numéro à sa carte d'identité ?", "Je, uso unalingana na picha, na jina na nambari vinalingana na kitambulisho chake?", "هل يطابق الوجه الصورة، والاسم والرقم بطاقة هويته؟"),
"Enter an amount above zero.": ("Saisissez un montant supérieur à zéro.", "Weka kiasi kikubwa kuliko sifuri.", "أدخل مبلغًا أكبر من صفر."),
"Enter your PIN": ("Saisissez votre code PIN", "Weka PIN yako", "أدخل رمزك السري"),
"Entitlements": ("Droits", "Stahiki", "الاستحقاقات"),
"Expired": ("Expiré", "Imeisha muda", "منتهي"),
"Float closed": ("Caisse clôturée", "Hesabu imefungwa", "تم إغلاق الصندوق"),
"Float opened": ("Caisse ouverte", "Hesabu imefunguliwa", "تم فتح الصندوق"),
"Float: {}": ("Caisse : {}", "Fedha: {}", "الصندوق: {}"),
"GOOD": ("VALIDE", "SAWA", "صالح"),
"Give the goods or cash, then confirm": ("Remettez les biens ou l'argent, puis confirmez", "Toa bidhaa au pesa, kisha thibitisha", "سلّم البضاعة أو النقود، ثم أكّد"),
"Good voucher. You can redeem it.": ("Bon valide. Vous pouvez l'encaisser.", "Vocha ni halali. Unaweza kuitumia.", "قسيمة صالحة. يمكنك صرفها."),
"Hello, {}": ("Bonjour, {}", "Habari, {}", "مرحبًا، {}"),
"High contrast for sunlight": ("Contraste élevé (plein soleil)", "Mwonekano mkali (jua kali)", "تباين عالٍ لضوء الشمس"),
"History": ("Historique", "Historia", "السجل"),
"Holder": ("Titulaire", "Mmiliki", "الحامل"),
"How much is paid now?": ("Quel montant est payé maintenant ?", "Kiasi gani kinalipwa sasa?", "كم يُدفع الآن؟"),
"ID card": ("Carte d'identité", "Kitambulisho", "بطاقة الهوية"),
"ID payment": ("Paiement par identité", "Malipo kwa kitambulisho", "دفع بالهوية"),
"ID {}": ("ID {}", "Kitambulisho {}", "الهوية {}"),
"Identity check": ("Vérification d'identité", "Ukaguzi wa utambulisho", "التحقق من الهوية"),
"Identity checked. Choose what to pay.": ("Identité vérifiée. Choisissez ce qu'il faut payer.", "Utambulisho umekaguliwa. Chagua cha kulipa.", "تم التحقق من الهوية. اختر ما تدفعه."),
"Language": ("Langue", "Lugha", "اللغة"),
"Language, printer, scanner": ("Langue, imprimante, lecteur", "Lugha, printa, skana", "اللغة والطابعة والماسح"),
"Last sync": ("Dernière synchro", "Mara ya mwisho", "آخر مزامنة"),
"Left after this": ("Reste ensuite", "Kitakachobaki", "المتبقي بعد ذلك"),
"Log out": ("Déconnexion", "Toka", "تسجيل الخروج"),
"Match — pay {}": ("Conforme — payer {}", "Inalingana — lipa {}", "مطابق — ادفع {}"),
"Next customer": ("Client suivant", "Mteja anayefuata", "العميل التالي"),
"No camera found. Serial and USB scanners are listening.": ("Aucune caméra. Les lecteurs série et USB sont à l'écoute.", "Hakuna kamera. Skana za serial na USB zinasikiliza.", "لا توجد كاميرا. الماسحات التسلسلية وUSB في وضع الاستماع."),
"No match": ("Non conforme", "Hailingani", "غير مطابق"),
"No photo": ("Pas de photo", "Hakuna picha", "لا توجد صورة"),
"No printer set up": ("Aucune imprimante configurée", "Hakuna printa iliyowekwa", "لا توجد طابعة مُعدّة"),
"Not yet": ("Pas encore", "Bado", "ليس بعد"),
"Nothing recorded yet.": ("Rien d'enregistré pour l'instant.", "Hakuna kilichorekodiwa bado.", "لا شيء مسجّل بعد."),
"Nothing to pay for this person today.": ("Rien à payer pour cette personne aujourd'hui.", "Hakuna cha kulipa kwa mtu huyu leo.", "لا شيء يُدفع لهذا الشخص اليوم."),
"OK": ("OK", "Sawa", "موافق"),
"Off": ("Non", "Zima", "إيقاف"),
"Offline": ("Hors ligne", "Nje ya mtandao", "غير متصل"),
"Offline limit reached ({} left). Sync first.": ("Limite hors ligne atteinte ({} restant). Synchronisez d'abord.", "Kikomo cha nje ya mtandao kimefikiwa (zimebaki {}). Sawazisha kwanza.", "تم بلوغ حد العمل دون اتصال (المتبقي {}). زامن أولًا."),
"Offline limits left": ("Limites hors ligne restantes", "Vikomo vilivyobaki nje ya mtandao", "حدود العمل دون اتصال المتبقية"),
"Offline · {} pending": ("Hors ligne · {} en attente", "Nje ya mtandao · {} zinasubiri", "غير متصل · {} معلّقة"),
"On": ("Oui", "Washa", "تشغيل"),
"Online": ("En ligne", "Mtandaoni", "متصل"),
"Only {} is left on this voucher.": ("Il ne reste que {} sur ce bon.", "Imebaki {} tu kwenye vocha hii.", "لم يتبقَّ على هذه القسيمة سوى {}."),
"Open float": ("Ouvrir la caisse", "Fungua hesabu", "افتح الصندوق"),
"Open the cash float before paying anyone.": ("Ouvrez la caisse avant de payer qui que ce soit.", "Fungua hesabu ya fedha kabla ya kumlipa mtu yeyote.", "افتح صندوق النقد قبل الدفع لأي شخص."),
"Opening float": ("Fonds de départ", "Fedha za kuanzia", "رصيد البداية"),
"Or type the code:": ("Ou saisissez le code :", "Au andika msimbo:", "أو اكتب الرمز:"),
"PAPER OUT": ("PLUS DE PAPIER", "KARATASI IMEISHA", "نفد الورق"),
"PIN digits entered: {}": ("Chiffres du PIN saisis : {}", "Tarakimu za PIN zilizowekwa: {}", "أرقام الرمز المُدخلة: {}"),
"Paid": ("Payé", "Amelipwa", "مدفوع"),
"Paid out ({})": ("Versé ({})", "Zilizolipwa ({})", "المصروف ({})"),
"Paid {}": ("Payé {}", "Imelipwa {}", "تم دفع {}"),
"Part amount": ("Montant partiel", "Sehemu ya kiasi", "مبلغ جزئي"),
"Partly used": ("Utilisé en partie", "Imetumika kiasi", "مستخدم جزئيًا"),
"Pay": ("Payer", "Lipa", "ادفع"),
"Pay a person's entitlements": ("Payer les droits d'une personne", "Lipa stahiki za mtu", "ادفع استحقاقات شخص"),
"Pending": ("En attente", "Inasubiri", "معلّق"),
"Photo of {}": ("Photo de {}", "Picha ya {}", "صورة {}"),
"Point the scanner at the code": ("Pointez le lecteur vers le code", "Elekeza skana kwenye msimbo", "وجّه الماسح نحو الرمز"),
"Print day report": ("Imprimer le rapport du jour", "Chapisha ripoti ya siku", "اطبع تقرير اليوم"),
"Printer not connected": ("Imprimante non connectée", "Printa haijaunganishwa", "الطابعة غير متصلة"),
"Printing the receipt…": ("Impression du reçu…", "Inachapisha risiti…", "جارٍ طباعة الإيصال…"),
"Programme": ("Programme", "Mpango", "البرنامج"),
"Put a new paper roll in the printer, then press Retry. The payment is saved.": ("Mettez un nouveau rouleau de papier, puis appuyez sur Réessayer. Le paiement est enregistré.", "Weka karatasi mpya kwenye printa, kisha bonyeza Jaribu tena. Malipo yamehifadhiwa.", "ضع لفة ورق جديدة في الطابعة، ثم اضغط إعادة المحاولة. الدفعة محفوظة."),
"REFUSED": ("REFUSÉ", "IMEKATALIWA", "مرفوض"),
"Receipt": ("Reçu", "Risiti", "الإيصال"),
"Receipt preview": ("Aperçu du reçu", "Onyesho la risiti", "معاينة الإيصال"),
"Receipt printed": ("Reçu imprimé", "Risiti imechapishwa", "تمت طباعة الإيصال"),
"Receipt printer": ("Imprimante de reçus", "Printa ya risiti", "طابعة الإيصالات"),
"Recording…": ("Enregistrement…", "Inarekodi…", "جارٍ التسجيل…"),
"Redeem {}": ("Encaisser {}", "Tumia {}", "اصرف {}"),
"Redemptions": ("Encaissements", "Matumizi", "عمليات الصرف"),
"Reference": ("Référence", "Kumbukumbu", "المرجع"),
"Reprint": ("Réimprimer", "Chapisha tena", "إعادة الطباعة"),
"Result": ("Résultat", "Matokeo", "النتيجة"),
"Retry": ("Réessayer", "Jaribu tena", "إعادة المحاولة"),
"Save": ("Enregistrer", "Hifadhi", "حفظ"),
"Scan": ("Scanner", "Skani", "مسح"),
"Scan again": ("Scanner à nouveau", "Skani tena", "امسح مجددًا"),
"Scan another card": ("Scanner une autre carte", "Skani kadi nyingine", "امسح بطاقة أخرى"),
"Scan the voucher or the ID card": ("Scannez le bon ou la carte d'identité", "Skani vocha au kitambulisho", "امسح القسيمة أو بطاقة الهوية"),
"Scan their ID card": ("Scanner sa carte d'identité", "Skani kitambulisho chake", "امسح بطاقة هويته"),
"Scan voucher": ("Scanner un bon", "Skani vocha", "امسح قسيمة"),
"Search name or ID number": ("Rechercher un nom ou un numéro d'ID", "Tafuta jina au nambari ya kitambulisho", "ابحث بالاسم أو رقم الهوية"),
"Server": ("Serveur", "Seva", "الخادم"),
"Settings": ("Réglages", "Mipangilio", "الإعدادات"),
"Should be in the box": ("Doit être en caisse", "Inapaswa kuwa sandukuni", "يجب أن يكون في الصندوق"),
"Something went wrong: {}": ("Un problème est survenu : {}", "Kuna tatizo: {}", "حدث خطأ: {}"),
"Sync": ("Synchro", "Sawazisha", "مزامنة"),
"Sync now": ("Synchroniser", "Sawazisha sasa", "زامن الآن"),
"Syncing…": ("Synchronisation…", "Inasawazisha…", "جارٍ المزامنة…"),
"Terminal {}": ("Terminal {}", "Kifaa {}", "الجهاز {}"),
"Test print": ("Test d'impression", "Jaribu kuchapisha", "طباعة تجريبية"),
"The ID card is not the voucher holder's. Do not pay.": ("La carte d'identité n'est pas celle du titulaire. Ne payez pas.", "Kitambulisho si cha mmiliki wa vocha. Usilipe.", "بطاقة الهوية ليست لحامل القسيمة. لا تدفع."),
"The amount is in the wrong currency ({}).": ("Le montant est dans la mauvaise devise ({}).", "Kiasi kiko katika sarafu isiyo sahihi ({}).", "المبلغ بعملة خاطئة ({})."),
"The code could not be read. Scan again or type it.": ("Le code est illisible. Scannez à nouveau ou saisissez-le.", "Msimbo haukusomeka. Skani tena au uandike.", "تعذّرت قراءة الرمز. امسحه مجددًا أو اكتبه."),
"The receipt did not print": ("Le reçu ne s'est pas imprimé", "Risiti haikuchapishwa", "لم تتم طباعة الإيصال"),
"This is not a genuine voucher. Do not accept it.": ("Ce n'est pas un bon authentique. Ne l'acceptez pas.", "Hii si vocha halali. Usiikubali.", "هذه ليست قسيمة أصلية. لا تقبلها."),
"This person is not on the list for this terminal.": ("Cette personne n'est pas sur la liste de ce terminal.", "Mtu huyu hayupo kwenye orodha ya kifaa hiki.", "هذا الشخص ليس في قائمة هذا الجهاز."),
"This shop is suspended. Call the programme office.": ("Ce commerce est suspendu. Appelez le bureau du programme.", "Duka hili limesimamishwa. Piga simu ofisi ya mpango.", "هذا المتجر موقوف. اتصل بمكتب البرنامج."),
"This terminal cannot accept {} offline yet. Sync first.": ("Ce terminal ne peut pas encore accepter {} hors ligne. Synchronisez d'abord.", "Kifaa hiki hakiwezi kupokea {} nje ya mtandao bado. Sawazisha kwanza.", "لا يمكن لهذا الجهاز قبول {} دون اتصال بعد. زامن أولًا."),
"This terminal has been offline too long. Sync before redeeming.": ("Ce terminal est hors ligne depuis trop longtemps. Synchronisez avant d'encaisser.", "Kifaa hiki kimekaa nje ya mtandao muda mrefu. Sawazisha kabla ya kutumia vocha.", "هذا الجهاز غير متصل منذ مدة طويلة. زامن قبل الصرف."),
"This voucher cannot be used at this site.": ("Ce bon n'est pas valable sur ce site.", "Vocha hii haitumiki mahali hapa.", "لا يمكن استخدام هذه القسيمة في هذا الموقع."),
"This voucher cannot be used in this shop.": ("Ce bon n'est pas valable dans ce commerce.", "Vocha hii haitumiki katika duka hili.", "لا يمكن استخدام هذه القسيمة في هذا المتجر."),
"This voucher cannot be used yet. Ask the person to come back later.": ("Ce bon n'est pas encore valable. Demandez à la personne de revenir plus tard.", "Vocha hii haiwezi kutumika bado. Mwombe mtu arudi baadaye.", "لا يمكن استخدام هذه القسيمة بعد. اطلب من الشخص العودة لاحقًا."),
"This voucher comes from an unknown issuer. Do not accept it.": ("Ce bon vient d'un émetteur inconnu. Ne l'acceptez pas.", "Vocha hii imetolewa na mtoaji asiyejulikana. Usiikubali.", "هذه القسيمة من جهة إصدار غير معروفة. لا تقبلها."),
"This voucher has already been used in full.": ("Ce bon a déjà été utilisé en totalité.", "Vocha hii imeshatumika yote.", "تم استخدام هذه القسيمة بالكامل مسبقًا."),
"This voucher has expired.": ("Ce bon a expiré.", "Muda wa vocha hii umekwisha.", "انتهت صلاحية هذه القسيمة."),
"This voucher is for a named person. Scan their ID card first.": ("Ce bon est nominatif. Scannez d'abord la carte d'identité.", "Vocha hii ni ya mtu maalum. Skani kitambulisho chake kwanza.", "هذه القسيمة لشخص محدد. امسح بطاقة هويته أولًا."),
"This voucher must be used in full ({}).": ("Ce bon doit être utilisé en totalité ({}).", "Vocha hii lazima itumike yote ({}).", "يجب استخدام هذه القسيمة بالكامل ({})."),
"This voucher was cancelled by the programme. Do not accept it.": ("Ce bon a été annulé par le programme. Ne l'acceptez pas.", "Vocha hii imefutwa na mpango. Usiikubali.", "ألغى البرنامج هذه القسيمة. لا تقبلها."),
"Time": ("Durée", "Muda", "الوقت"),
"To pay": ("À payer", "Alipwe", "للدفع"),
"Today's payments, reprint": ("Paiements du jour, réimpression", "Malipo ya leo, chapisha tena", "مدفوعات اليوم، إعادة الطباعة"),
"Too many redemptions wait for sync. Sync first.": ("Trop d'opérations attendent la synchronisation. Synchronisez d'abord.", "Matumizi mengi yanasubiri usawazishaji. Sawazisha kwanza.", "عمليات كثيرة تنتظر المزامنة. زامن أولًا."),
"Until {}": ("Jusqu'au {}", "Hadi {}", "حتى {}"),
"Used": ("Utilisé", "Imetumika", "مستخدم"),
"Value": ("Valeur", "Thamani", "القيمة"),
"Voucher": ("Bon", "Vocha", "قسيمة"),
"Voucher or ID number": ("Bon ou numéro d'ID", "Vocha au nambari ya kitambulisho", "قسيمة أو رقم هوية"),
"accepted offline — pending": ("accepté hors ligne — en attente", "imekubaliwa nje ya mtandao — inasubiri", "مقبول دون اتصال — معلّق"),
"{} pending": ("{} en attente", "{} zinasubiri", "{} معلّقة"),
}

LANGS = ["fr", "sw", "ar"]


def escape(text):
    return text.replace("\\", "\\\\").replace('"', '\\"')


def main():
    here = pathlib.Path(__file__).resolve().parent
    ui = here.parent / "ui"
    used = set()
    for path in sorted(ui.glob("*.slint")):
        used.update(re.findall(r'@tr\("((?:[^"\\]|\\.)*)"', path.read_text(encoding="utf-8")))
    missing = sorted(used - T.keys())
    if missing:
        sys.exit("untranslated strings (add them to lang/translations.py):\n  " + "\n  ".join(missing))
    for column, lang in enumerate(LANGS):
        lines = [
            'msgid ""',
            'msgstr ""',
            '"Content-Type: text/plain; charset=UTF-8\\n"',
            f'"Language: {lang}\\n"',
            '',
        ]
        for msgid in sorted(used):
            lines += [f'msgid "{escape(msgid)}"', f'msgstr "{escape(T[msgid][column])}"', ""]
        out = here / lang / "LC_MESSAGES" / "lastmile-terminal.po"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("\n".join(lines), encoding="utf-8")
    print(f"{len(used)} strings, {len(LANGS)} languages")


if __name__ == "__main__":
    main()
