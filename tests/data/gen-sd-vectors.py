#!/usr/bin/python3
"""Generate tests/data/sd-vectors.json: golden security-descriptor vectors from Samba.

Run by hand at development time, NOT by the tests (the tests only read the
JSON this writes). Needs Samba's Python bindings (Debian: `apt-get install
python3-samba`) and the system interpreter that has them:

    /usr/bin/python3 tests/data/gen-sd-vectors.py > tests/data/sd-vectors.json

Each vector is

    sddl_in      the SDDL handed to Samba (or, for hand-built vectors, what
                 dwb is expected to parse into the same descriptor)
    domain_sid   the domain SID used for domain-relative aliases
    b64          Samba's NDR encoding (self-relative SECURITY_DESCRIPTOR)
    sddl_samba   Samba's as_sddl() of those bytes after ndr_unpack

and optionally

    layout       "windows" when the bytes were re-laid out in the order
                 Windows uses (SACL, DACL, owner, group); Samba itself writes
                 owner, group, SACL, DACL. Samba must still decode them to
                 the same SDDL (checked here).
    sddl_dwb     the SDDL dwb is expected to print when it differs from
                 Samba's on purpose (a NULL DACL, which Samba's SDDL drops).
    note         why a vector is special.

The oracle is the Samba release Debian ships (4.17 when this was written);
its SDDL dialect, not the newest upstream one, is what dwb's formatter copies.
"""

import base64
import json
import struct
import sys

from samba.dcerpc import security
from samba.ndr import ndr_pack, ndr_unpack

LAB = "S-1-5-21-516664053-1928398449-203945938"
TINY = "S-1-5-21-1-2-3"
OTHER = "S-1-5-21-1111111111-2222222222-3333333333"

DEVICE = "5df2b673-6d41-4774-b3e8-d52e8ee9ff99"  # msDS-Device schemaIDGUID
COMPUTER = "bf967a86-0de6-11d0-a285-00aa003049e2"  # computer class
USER_FORCE_CHANGE_PW = "00299570-246d-11d0-a768-00aa006e0529"
SEND_AS = "ab721a53-1e2f-11d0-9819-00aa0040529b"
DNS_HOST_NAME = "72e39547-7b18-11d1-adef-00c04fd8d5cd"
SPN = "f3a64788-5306-11d1-a9c5-0000f80367c1"
KEY_CRED_LINK = "5b47d60f-6090-40b2-9f37-2a4de88f3063"

AD_ALL = "RPWPCRCCDCLCLORCWOWDSDDTSW"

DEFAULT_SD = f"D:(A;;RPLCLORC;;;AU)(A;;{AD_ALL};;;DA)(A;;{AD_ALL};;;SY)"

WELL_KNOWN = (
    "AA AC AN AO AS AU BA BG BO BU CD CG CO CY ED ER ES HA HI IS IU LS LU LW "
    "ME MP MS MU NO NS NU OW PO PS PU RA RC RD RE RM RU SI SO SS SU SY UD WD WR"
).split()
DOMAIN_RELATIVE = "AP CA CN DA DC DD DG DU EA EK KA LA LG PA RO RS SA".split()

COMPUTER_DEFAULT = (
    f"O:DAG:DUD:(A;;{AD_ALL};;;DA)(A;;{AD_ALL};;;AO)(A;;{AD_ALL};;;SY)"
    "(A;;RPCRLCLORCSDDT;;;CO)(OA;;WP;4c164200-20c0-11d0-a768-00aa006e0529;;CO)"
    "(A;;RPLCLORC;;;AU)(OA;;CR;ab721a53-1e2f-11d0-9819-00aa0040529b;;WD)(A;;CCDC;;;PS)"
    "(OA;;CCDC;bf967aa8-0de6-11d0-a285-00aa003049e2;;PO)"
    "(OA;;RPWP;bf967a7f-0de6-11d0-a285-00aa003049e2;;CA)"
    f"(OA;;SW;{SPN};;PS)(OA;;RPWP;77B5B886-944A-11d1-AEBD-0000F80367C1;;PS)"
    f"(OA;;SW;{DNS_HOST_NAME};;PS)(OA;;SW;{DNS_HOST_NAME};;CO)(OA;;SW;{SPN};;CO)"
    f"(OA;;WP;3e0abfd0-126a-11d0-a060-00aa006c33ed;{COMPUTER};CO)"
    f"(OA;;WP;5f202010-79a5-11d0-9020-00c04fc2d4cf;{COMPUTER};CO)"
    f"(OA;;WP;bf967950-0de6-11d0-a285-00aa003049e2;{COMPUTER};CO)"
    f"(OA;;WP;bf967953-0de6-11d0-a285-00aa003049e2;{COMPUTER};CO)"
    "(OA;;RP;46a9b11d-60ae-405a-b7e8-ff8a58d456d2;;S-1-5-32-560)"
    f"(OA;CIIO;RPWP;{KEY_CRED_LINK};{DEVICE};KA)(OA;CIIO;RPWP;{KEY_CRED_LINK};{DEVICE};EK)"
)

# (sddl_in, domain_sid[, note])
CASES = [
    # defaultSecurityDescriptor forms
    (DEFAULT_SD, LAB, "defaultSecurityDescriptor"),
    (DEFAULT_SD, TINY, "defaultSecurityDescriptor, other domain"),
    ("O:BAG:BA" + DEFAULT_SD, LAB),
    ("O:DAG:DU" + DEFAULT_SD + "S:AI(AU;SAFA;WPWDWO;;;WD)", LAB),
    (COMPUTER_DEFAULT, LAB, "computer class default SD plus key-credential ACEs: many ACEs"),
    # owner / group / empty and absent parts
    ("", LAB, "nothing at all"),
    ("O:BA", LAB),
    ("G:SY", LAB),
    ("O:SYG:SY", LAB),
    ("D:", LAB, "empty DACL"),
    ("O:BAG:BAD:", LAB, "empty DACL with owner and group"),
    ("D:P", LAB, "protected empty DACL"),
    ("D:PAI", LAB),
    ("D:ARAI(A;;RP;;;WD)", LAB),
    ("D:PARAI(A;;RP;;;WD)S:PARAI(AU;SA;RP;;;WD)", LAB, "all ACL flags on both ACLs"),
    ("S:", LAB, "empty SACL only"),
    ("S:(AU;SA;WP;;;WD)", LAB, "SACL only"),
    ("S:AI(OU;CIIOIDSA;WP;f30e3bbe-9ff0-11d1-b603-0000f80367c1;bf967aa5-0de6-11d0-a285-00aa003049e2;WD)"
     "(OU;CIIOIDSA;WP;f30e3bbf-9ff0-11d1-b603-0000f80367c1;bf967aa5-0de6-11d0-a285-00aa003049e2;WD)", LAB,
     "domain-root SACL"),
    ("S:(AU;FA;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;WD)D:(A;;RP;;;WD)G:BAO:SY", LAB, "sections out of order"),
    # every ACE type
    (f"D:(A;;RP;;;WD)(D;;WP;;;AN)(OA;;CR;{USER_FORCE_CHANGE_PW};;AU)(OD;;CR;{SEND_AS};;DU)"
     f"S:(AU;SA;RC;;;WD)(OU;FA;WP;bf967950-0de6-11d0-a285-00aa003049e2;;WD)", LAB, "every supported ACE type"),
    ("D:(OA;;CR;;;AU)(OD;;RP;;;WD)S:(OU;SA;WP;;;WD)", LAB, "object ACE types without GUIDs"),
    (f"D:(OA;CIIO;RP;;{DEVICE};AU)", LAB, "inherited object type only"),
    (f"D:(OA;CI;RPWP;{KEY_CRED_LINK};{DEVICE};{LAB}-1107)", LAB, "both GUIDs, explicit domain SID"),
    (f"D:(OA;;RPWP;{DEVICE.upper()};;DA)", LAB, "upper-case GUID in"),
    (f"D:(OD;CIIONP;WP;{DNS_HOST_NAME};{COMPUTER};PS)(OA;CIIO;WP;{SPN};{COMPUTER};PS)", LAB),
    # ACE flags
    ("D:(A;OICINPIOIDSAFA;RP;;;WD)", LAB, "every ACE flag"),
    ("D:(A;CI;RP;;;WD)(A;OI;RP;;;WD)(A;NP;RP;;;WD)(A;IO;RP;;;WD)(A;ID;RP;;;WD)", LAB, "each inheritance flag"),
    ("D:(A;IOCI;GA;;;SY)(A;CIOI;GR;;;AU)(A;CINP;GW;;;BA)", LAB, "flags given out of Samba's order"),
    ("S:(AU;SA;RP;;;WD)(AU;FA;RP;;;WD)(AU;SAFA;RP;;;WD)(AU;CIIDSA;RP;;;WD)", LAB, "audit flags"),
    # rights
    ("D:(A;;0x12345678;;;WD)(A;;0xffffffff;;;WD)(A;;0x0;;;WD)(A;;0x00100000;;;WD)", LAB, "hex rights"),
    ("D:(A;;0xF01FF;;;WD)(A;;0x20094;;;AU)(A;;0x10;;;BA)", LAB, "hex rights that have letter forms"),
    ("D:(A;;GA;;;WD)(A;;GR;;;WD)(A;;GW;;;WD)(A;;GX;;;WD)(A;;GAGRGWGX;;;WD)", LAB, "generic rights"),
    ("D:(A;;CC;;;WD)(A;;DC;;;WD)(A;;LC;;;WD)(A;;SW;;;WD)(A;;RP;;;WD)(A;;WP;;;WD)(A;;DT;;;WD)(A;;LO;;;WD)"
     "(A;;CR;;;WD)(A;;SD;;;WD)(A;;RC;;;WD)(A;;WD;;;WD)(A;;WO;;;WD)", LAB, "each AD right alone"),
    ("D:(A;;CCDCLCSWRPWPDTLOCRSDRCWDWOGAGXGWGR;;;WD)", LAB, "every right letter"),
    ("D:(A;;FR;;;WD)(A;;FW;;;WD)(A;;FX;;;WD)", LAB, "file rights (no AD letters: formatted as hex)"),
    ("D:(A;;;;;WD)", LAB, "empty rights"),
    # grant's split form of an inheritable generic ACE
    (f"D:(A;CIIO;GA;;;DA)(A;;{AD_ALL};;;DA)", LAB, "split GA"),
    (f"D:AI(A;;RP;;;WD)(A;CIID;GA;;;SY)(OA;CIIOID;RP;{DEVICE};{COMPUTER};AU)", LAB, "inherited ACEs"),
    # SIDs and aliases
    ("D:" + "".join(f"(A;;RP;;;{a})" for a in WELL_KNOWN), LAB, "every well-known alias"),
    ("D:" + "".join(f"(A;;RP;;;{a})" for a in DOMAIN_RELATIVE), LAB, "every domain-relative alias"),
    ("D:" + "".join(f"(A;;RP;;;{a})" for a in DOMAIN_RELATIVE), TINY, "domain-relative aliases, other domain"),
    ("O:DAG:DU", TINY),
    ("O:EAG:SA", LAB, "forest-root aliases (same domain SID)"),
    (f"O:{LAB}-512G:{LAB}-513D:(A;;RP;;;{LAB}-9999)(A;;RP;;;{OTHER}-512)(A;;RP;;;S-1-5-32-544)", LAB,
     "explicit SIDs that do and do not have aliases"),
    (f"O:{LAB}D:(A;;RP;;;{LAB}-4-512)", LAB, "the domain SID itself and a deeper SID"),
    ("O:S-1-5-32-544D:(A;;RP;;;S-1-5-32-544)", LAB, "SID followed by D: section"),
    ("D:(A;;RP;;;S-1-5-1-2-3-4-5-6-7-8-9-10-11-12-13-14-15)(A;;RP;;;S-1-5)(A;;RP;;;S-1-1)", LAB,
     "SIDs with 15 and 0 sub-authorities"),
    ("D:(A;;RP;;;S-1-5-21-1-2-3-4294967295)", TINY, "largest RID"),
    ("D:(A;;RP;;;WD)(A;;RP;;;WD)", LAB, "duplicate ACEs kept"),
    ("D:" + "".join(f"(A;;RP;;;{LAB}-{1100 + i})" for i in range(40)), LAB, "forty ACEs"),
]


def vector(sddl_in, domain, note=None):
    dom = security.dom_sid(domain)
    sd = security.descriptor.from_sddl(sddl_in, dom)
    raw = ndr_pack(sd)
    out = {
        "sddl_in": sddl_in,
        "domain_sid": domain,
        "b64": base64.b64encode(raw).decode(),
        "sddl_samba": ndr_unpack(security.descriptor, raw).as_sddl(dom),
    }
    if note:
        out["note"] = note
    return out


def sid_len(raw, off):
    return 8 + 4 * raw[off + 1]


def windows_layout(raw):
    """Re-lay Samba's bytes out as Windows does: SACL, DACL, owner, group."""
    rev, sbz1, control, o_off, g_off, s_off, d_off = struct.unpack_from("<BBHIIII", raw, 0)
    parts = {}
    if o_off:
        parts["owner"] = raw[o_off:o_off + sid_len(raw, o_off)]
    if g_off:
        parts["group"] = raw[g_off:g_off + sid_len(raw, g_off)]
    for name, off in (("sacl", s_off), ("dacl", d_off)):
        if off:
            size = struct.unpack_from("<H", raw, off + 2)[0]
            parts[name] = raw[off:off + size]
    offsets = {}
    body = b""
    for name in ("sacl", "dacl", "owner", "group"):
        if name in parts:
            offsets[name] = 20 + len(body)
            body += parts[name]
    header = struct.pack(
        "<BBHIIII", rev, sbz1, control,
        offsets.get("owner", 0), offsets.get("group", 0), offsets.get("sacl", 0), offsets.get("dacl", 0))
    return header + body


def windows_vector(sddl_in, domain, note):
    v = vector(sddl_in, domain, note)
    dom = security.dom_sid(domain)
    raw = windows_layout(base64.b64decode(v["b64"]))
    sddl = ndr_unpack(security.descriptor, raw).as_sddl(dom)
    assert sddl == v["sddl_samba"], (sddl, v["sddl_samba"])
    v["b64"] = base64.b64encode(raw).decode()
    v["layout"] = "windows"
    return v


def null_dacl_vector():
    """Samba's SDDL cannot spell a NULL DACL (DACL_PRESENT without a DACL), so build it."""
    dom = security.dom_sid(LAB)
    sd = security.descriptor()
    sd.revision = security.SD_REVISION
    sd.type = security.SEC_DESC_SELF_RELATIVE | security.SEC_DESC_DACL_PRESENT
    sd.owner_sid = security.dom_sid("S-1-5-32-544")
    sd.group_sid = security.dom_sid("S-1-5-32-544")
    raw = ndr_pack(sd)
    return {
        "sddl_in": "O:BAG:BAD:NO_ACCESS_CONTROL",
        "domain_sid": LAB,
        "b64": base64.b64encode(raw).decode(),
        "sddl_samba": ndr_unpack(security.descriptor, raw).as_sddl(dom),
        "sddl_dwb": "O:BAG:BAD:NO_ACCESS_CONTROL",
        "note": "NULL DACL, built by hand: Samba's SDDL drops it, dwb prints NO_ACCESS_CONTROL",
    }


def main():
    vectors = [vector(*c) for c in CASES]
    vectors.append(null_dacl_vector())
    vectors.append(windows_vector("O:DAG:DU" + DEFAULT_SD + "S:(AU;SA;WP;;;WD)", LAB, "Windows layout"))
    vectors.append(windows_vector(COMPUTER_DEFAULT + "S:AI(AU;SAFA;WD;;;WD)", LAB, "Windows layout, many ACEs"))
    vectors.append(windows_vector("O:BAD:P(A;;RP;;;WD)", TINY, "Windows layout, no group or SACL"))
    json.dump(vectors, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
