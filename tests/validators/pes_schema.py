#!/usr/bin/env python3
"""Writes the receipts part of the DGFiP's PES V2 schema (PES_Aller with
PES_RecetteAller) into a directory and prints the path of its root,
PES_V2/Rev0/PES_Aller.xsd, for xsd_check.py.

Why a transcription: the DGFiP publishes its schemas on its own site only;
no registry CI reaches (PyPI, npm, crates.io, Debian) ships them, and
third-party copies are not committed here. What follows states, type by
type, the structure those files define -- element names and order,
cardinalities, value types with their lengths and patterns, enumerations --
as read in the copy of the schemas kept in the public repository
libriciel/s2low (xsd/Schemas_PES_v471_072015 for the receipt classes,
Simple_Type.xsd, CommunPES.xsd, Class_Adresse.xsd, Class_Signature.xsd;
xsd/Schemas_PES_v491_18042016 for CommunRecette.xsd, PES_RecetteAller.xsd,
Class_Enveloppe.xsd, Class_EntetePES.xsd, Class_Bancaire.xsd,
Class_PJReference.xsd, which the v4.71 folder lacks). Their documentation
is left out; the commun namespace is gathered as Class_SchemasCommuns.xsd
(absent from that copy) does; the root keeps only its receipts branch (the
expense, invoice and attachment branches are optional and never written).
The XML-DSig core schema comes from PyPI's signxml.

With REGIE_PES_XSD naming a complete official copy, the tests use that
instead (tests/src/validators.rs).

Usage: pes_schema.py DIRECTORY
"""
import os
import sys

OUT = sys.argv[1]
R = os.path.join(OUT, "PES_V2")
XS = 'xmlns:xs="http://www.w3.org/2001/XMLSchema"'
CM = "http://www.minefi.gouv.fr/cp/helios/pes_v2/commun"
def w(path, body, attrs=""):
    p = os.path.join(R, path); os.makedirs(os.path.dirname(p), exist_ok=True)
    open(p, "w").write(f'<?xml version="1.0" encoding="UTF-8"?>\n<xs:schema {XS}{attrs}>\n{body}\n</xs:schema>\n')
def base(name, vtype):
    return f'<xs:complexType name="{name}"><xs:attribute name="V" type="{vtype}" use="required"/></xs:complexType>'
def enum(name, values):
    e = "".join(f'<xs:enumeration value="{v}"/>' for v in values)
    return f'<xs:complexType name="{name}"><xs:attribute name="V" use="required"><xs:simpleType><xs:restriction base="xs:string">{e}</xs:restriction></xs:simpleType></xs:attribute></xs:complexType>'
# ---- Simple_Type.xsd
st = []
for n in [1,2,3,4,5,6,10,11,12,13,14,15,16,17,20,25,30,34,35,50,70,80,100,140,250]:
    st.append(base(f"Base_Alphanum{n}", f"V_Alphanum{n}"))
    st.append(f'<xs:simpleType name="V_Alphanum{n}"><xs:restriction base="V_BaseAlphanum"><xs:maxLength value="{n}"/><xs:minLength value="1"/><xs:pattern value="[0-9a-zA-Z]*"/></xs:restriction></xs:simpleType>')
for n in [1,2,5,20,50]:
    st.append(base(f"Base_Alphanum{n}_Light", f"V_Alphanum{n}_Light"))
    st.append(f'<xs:simpleType name="V_Alphanum{n}_Light"><xs:restriction base="xs:string"><xs:maxLength value="{n}"/><xs:pattern value="[0-9a-zA-Z]*"/></xs:restriction></xs:simpleType>')
for n in [1,2,3,4,5,6,7,8,9,10,12,13,14,15,16,17,20,25]:
    st.append(base(f"Base_Num{n}", f"V_Num{n}"))
    st.append(f'<xs:simpleType name="V_Num{n}"><xs:restriction base="xs:decimal"><xs:totalDigits value="{n}"/><xs:minExclusive value="0"/><xs:fractionDigits value="0"/></xs:restriction></xs:simpleType>')
for n in [1,2,4,6,7,9,10,13,14,20]:
    st.append(base(f"Base_Num{n}_Light", f"V_Num{n}_Light"))
    st.append(f'<xs:simpleType name="V_Num{n}_Light"><xs:restriction base="xs:string"><xs:maxLength value="{n}"/><xs:pattern value="[0-9]*"/></xs:restriction></xs:simpleType>')
for n in [2,5,6,7,10,11,12,14,15,16,20,24,25,30,32,34,35,38,50,70,100,160,200,250,500]:
    st.append(base(f"Base_Texte{n}", f"V_Texte{n}"))
    st.append(f'<xs:simpleType name="V_Texte{n}"><xs:restriction base="V_BaseAlphanum"><xs:maxLength value="{n}"/><xs:minLength value="1"/></xs:restriction></xs:simpleType>')
st.append(base("Base_Texte11BIC", "V_Texte11BIC"))
st.append('<xs:simpleType name="V_Texte11BIC"><xs:restriction base="xs:string"><xs:maxLength value="11"/><xs:minLength value="8"/><xs:pattern value="[A-Z]{6,6}[A-Z2-9][A-NP-Z0-9]([A-Z0-9]{3,3}){0,1}"/></xs:restriction></xs:simpleType>')
st.append(base("Base_Texte34IBAN", "V_Texte34IBAN"))
st.append('<xs:simpleType name="V_Texte34IBAN"><xs:restriction base="xs:string"><xs:maxLength value="34"/><xs:minLength value="1"/><xs:pattern value="[A-Z]{2,2}[0-9]{2,2}[a-zA-Z0-9]{1,30}"/></xs:restriction></xs:simpleType>')
st.append(base("Base_Texte500_Light", "V_Texte500_Light"))
st.append('<xs:simpleType name="V_Texte500_Light"><xs:restriction base="xs:string"><xs:maxLength value="500"/></xs:restriction></xs:simpleType>')
st.append(base("Base_Annee", "V_Annee")); st.append('<xs:simpleType name="V_Annee"><xs:restriction base="xs:gYear"/></xs:simpleType>')
st.append(base("Base_Booleen", "V_Booleen")); st.append('<xs:simpleType name="V_Booleen"><xs:restriction base="xs:boolean"/></xs:simpleType>')
st.append(base("Base_Date", "V_Date")); st.append('<xs:simpleType name="V_Date"><xs:restriction base="xs:date"/></xs:simpleType>')
for name, mn in [("Montant", 'minExclusive'), ("Montant_Light", 'minInclusive'), ("MontantPositif", 'minInclusive')]:
    st.append(base(f"Base_{name}", f"V_{name}"))
    st.append(f'<xs:simpleType name="V_{name}"><xs:restriction base="xs:decimal"><xs:totalDigits value="14"/><xs:fractionDigits value="2"/><xs:{mn} value="0"/></xs:restriction></xs:simpleType>')
for name, mn in [("Taux", 'minExclusive'), ("Taux_Light", 'minInclusive')]:
    st.append(base(f"Base_{name}", f"V_{name}"))
    st.append(f'<xs:simpleType name="V_{name}"><xs:restriction base="xs:decimal"><xs:totalDigits value="5"/><xs:fractionDigits value="2"/><xs:{mn} value="0"/></xs:restriction></xs:simpleType>')
st.append('<xs:simpleType name="V_BaseString"><xs:restriction base="xs:string"><xs:pattern value="[^ \\.]|n[^c]|[^n]c|[^n][^c]|...+"/></xs:restriction></xs:simpleType>')
st.append('<xs:simpleType name="V_BaseAlphanum"><xs:restriction base="V_BaseString"><xs:pattern value=".*[^0]+.*"/></xs:restriction></xs:simpleType>')
st.append(base("Base_Texte5_Longueur5", "V_Texte5_Longueur5"))
st.append('<xs:simpleType name="V_Texte5_Longueur5"><xs:restriction base="V_BaseAlphanum"><xs:maxLength value="5"/><xs:minLength value="5"/></xs:restriction></xs:simpleType>')
st.append(base("Base_Texte9_15", "V_Texte9_15"))
st.append('<xs:simpleType name="V_Texte9_15"><xs:restriction base="V_BaseAlphanum"><xs:minLength value="9"/><xs:maxLength value="15"/></xs:restriction></xs:simpleType>')
st.append(base("Base_Num6_NonVide", "V_Num6_NonVide"))
st.append('<xs:simpleType name="V_Num6_NonVide"><xs:restriction base="xs:string"><xs:maxLength value="6"/><xs:minLength value="1"/><xs:pattern value="[0-9]*"/></xs:restriction></xs:simpleType>')
for n in [140, 70, 35]:
    st.append(base(f"Base_Texte{n}SEPA", f"V_Texte{n}SEPA"))
    st.append(f'<xs:simpleType name="V_Texte{n}SEPA"><xs:restriction base="xs:string"><xs:maxLength value="{n}"/><xs:minLength value="1"/><xs:pattern value="[0-9a-zA-Z/?:()\\., \\-+\']*"/></xs:restriction></xs:simpleType>')
w("Simple_Type.xsd", "\n".join(st))
# ---- CommunPES.xsd (v4.71)
w("CommunPES.xsd", "\n".join([
 '<xs:include schemaLocation="Simple_Type.xsd"/>',
 enum("TDomaine", ["01","02","03","04","05","06","07","08","09"]),
 enum("TNatIdTiers", ["01","02","03","04"]),
 enum("TTypTiers", ["01","02","03","04","05","06","07","10","11","12","13","14","15","20","21","22","23","24","25","26","30"]),
 enum("TCatTiers", ["01","20","21","22","23","24","25","26","27","28","29","50","60","61","62","63","64","65","70","71","72","73","74"]),
 enum("TNatJur", ["01","02","03","04","05","06","07","08","09","10","11"]),
 enum("TObjet", ["01","02","03","04","05","06","07","08","09"]),
 enum("TPJ", ["001","002","003","004","005","006"]),
]))
def el(name, typ, opt=False, many=False):
    a = ' minOccurs="0"' if opt else ''
    a += ' maxOccurs="unbounded"' if many else ''
    return f'<xs:element name="{name}" type="{typ}"{a}/>'
def seq(name, *els):
    return f'<xs:complexType name="{name}"><xs:sequence>' + "".join(els) + '</xs:sequence></xs:complexType>'
# ---- Class_Adresse.xsd (v4.71)
w("Class_Adresse.xsd", "\n".join([
 '<xs:include schemaLocation="Simple_Type.xsd"/>',
 seq("TAdresse", el("TypAdr","TTypAdr"), el("Adr1","Base_Texte38",1), el("Adr2","Base_Texte38"), el("Adr3","Base_Texte38",1),
     el("CP","Base_Texte5_Longueur5"), el("Ville","Base_Texte38",1), el("CodRes","Base_Booleen"), el("CodPays","Base_Num3",1), el("DteAdr","Base_Date",1)),
 enum("TTypAdr", ["0","1","2"]),
]))
# ---- Class_Bancaire.xsd (v4.91)
w("Class_Bancaire.xsd", "\n".join([
 '<xs:include schemaLocation="Simple_Type.xsd"/>',
 '<xs:complexType name="TBancaire"><xs:sequence><xs:choice><xs:sequence>'
 + el("IdPayInt","Base_Alphanum4",1) + el("IdBancInt","Base_Alphanum11",1) + el("CodeEtab","Base_Alphanum5")
 + el("CodeGuic","Base_Alphanum5_Light") + el("IdCpte","Base_Texte11") + el("CleRib","Base_Num2_Light")
 + '</xs:sequence><xs:sequence>' + el("BIC","Base_Texte11BIC") + el("IBAN","Base_Texte34IBAN") + '</xs:sequence></xs:choice>'
 + el("LibBanc","Base_Texte24",1) + el("TitCpte","Base_Texte32") + el("DteBanc","Base_Date",1) + '</xs:sequence></xs:complexType>',
]))
# ---- Class_PJReference.xsd (v4.91)
w("Class_PJReference.xsd", "\n".join([
 '<xs:include schemaLocation="Simple_Type.xsd"/>',
 seq("TPJReference", el("Support","TSupport"), el("IdUnique","Base_Alphanum50"), el("NomPJ","Base_Texte100",1)),
 enum("TSupport", ["01","02","03"]),
]))
# ---- Class_Enveloppe.xsd, Class_EntetePES.xsd (v4.91)
w("Class_Enveloppe.xsd", "\n".join([
 '<xs:include schemaLocation="Simple_Type.xsd"/>',
 seq("TEnveloppe", el("Parametres","TParametres"), el("Emetteur","TCarteVisite",1), el("Recepteur","TCarteVisite",1)),
 seq("TParametres", el("Version","Base_Num2"), el("TypFic","Base_Texte32"), el("NomFic","Base_Texte100")),
 seq("TCarteVisite", el("Sigle","Base_Texte32",1), el("Adresse","Base_Texte38",1)),
]))
w("Class_EntetePES.xsd", "\n".join([
 '<xs:include schemaLocation="Simple_Type.xsd"/>', '<xs:include schemaLocation="CommunPES.xsd"/>',
 seq("TEnTetePES", el("DteStr","Base_Date"), el("IdPost","Base_Texte7"), el("LibellePoste","Base_Texte38",1), el("IdColl","Base_Num14_Light"),
     el("FinJur","Base_Alphanum20_Light",1), el("CodCol","Base_Alphanum3"), el("CodBud","Base_Alphanum2_Light",1), el("LibelleColBud","Base_Texte38",1)),
]))
# ---- the commun namespace gathered (stand-in for the absent Class_SchemasCommuns.xsd)
w("Class_SchemasCommuns.xsd", "\n".join(f'<xs:include schemaLocation="{f}"/>' for f in
  ["Simple_Type.xsd","CommunPES.xsd","Class_Adresse.xsd","Class_Bancaire.xsd","Class_PJReference.xsd","Class_Enveloppe.xsd","Class_EntetePES.xsd"]),
  f' targetNamespace="{CM}" xmlns="{CM}" elementFormDefault="unqualified"')
# ---- Class_Signature.xsd (v4.71, without the unused XAdES import); xmldsig core from PyPI's signxml
import signxml, shutil
os.makedirs(os.path.join(OUT, "xmldsig"), exist_ok=True)
shutil.copy(os.path.join(os.path.dirname(signxml.__file__), "schemas/xmldsig-core-schema.xsd"), os.path.join(OUT, "xmldsig"))
w("Class_Signature.xsd", '<xs:include schemaLocation="../xmldsig/xmldsig-core-schema.xsd"/>'
  '<xs:complexType name="PESSignatureType"><xs:complexContent><xs:restriction base="ds:SignatureType"><xs:sequence>'
  '<xs:element ref="ds:SignedInfo"/><xs:element ref="ds:SignatureValue"/><xs:element ref="ds:KeyInfo" minOccurs="0"/>'
  '<xs:element ref="ds:Object" minOccurs="0" maxOccurs="unbounded"/></xs:sequence></xs:restriction></xs:complexContent></xs:complexType>'
  '<xs:group name="PESSignatureGroup"><xs:sequence><xs:element name="Signature" type="ds:PESSignatureType"/></xs:sequence></xs:group>',
  ' targetNamespace="http://www.w3.org/2000/09/xmldsig#" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" elementFormDefault="qualified" attributeFormDefault="unqualified"')
# ---- NS_Recette/r0: PES_RecetteAller (v4.91) with CommunRecette (v4.91) and the v4.71 classes, in one file
def c(t): return "cm:" + t
REC = "http://www.minefi.gouv.fr/cp/helios/pes_v2/recette/r0/aller"
parts = [
 f'<xs:import namespace="{CM}" schemaLocation="../../Class_SchemasCommuns.xsd"/>',
 '<xs:import namespace="http://www.w3.org/2000/09/xmldsig#" schemaLocation="../../Class_Signature.xsd"/>',
 # CommunRecette
 enum("TTypBordAller", ["01","02","03","04","05","06"]),
 enum("TTypPce", ["01","02","03","04","05","06","07","09","10","11","12","14","15"]),
 enum("TNatPce", ["01","02","03","04","05","06","07","08","09","10","11","18"]),
 enum("TNatPrel", ["01","02"]), enum("TPerPrel", ["01","02","03","04","05","06","07"]),
 enum("TCodAssDeb", ["1","2","3"]), enum("TCodAyantDroit", ["01","02","03"]),
 enum("TNatPceOrig", ["01","02","03","05"]), enum("TTypFlux", ["01","02"]),
 enum("TModRegl", ["01","02","03","04","05","06","07","08","09"]),
 enum("TSequencePres", ["01","02","03","04"]), enum("TTypEdition", ["01"]),
 # Class_BordereauRecetteAller
 seq("TBlocBordereau", el("Exer",c("Base_Num4")), el("IdBord",c("Base_Num7")), el("DteBordEm",c("Base_Date")), el("TypBord","TTypBordAller"),
     el("NbrPce",c("Base_Num5")), el("MtCumulAnnuel",c("Base_Montant"),1), el("MtBordHt",c("Base_Montant")), el("MtBordTVA",c("Base_Montant"),1),
     el("DteAsp",c("Base_Date"),1), el("Objet",c("Base_Texte160"),1)),
 # Class_TitreAller
 seq("TBlocPiece", el("CodServ",c("Base_Texte10"),1), el("Affect",c("Base_Texte10"),1), el("IdPce",c("Base_Num8")), el("TypPce","TTypPce"),
     el("NatPce","TNatPce"), el("IdRol",c("Base_Num7"),1), el("DteAsp",c("Base_Date"),1), el("Edition","TTypEdition",1),
     el("ObjPce",c("Base_Texte160"),1), el("DebFact",c("Base_Date"),1), el("FinFact",c("Base_Date"),1), el("NumDette",c("Base_Num15"),1),
     el("Per",c("Base_Num1_Light"),1), el("Cle1",c("Base_Num1_Light"),1), el("Cle2",c("Base_Alphanum1_Light"),1), el("PJRef",c("TPJReference"),1,1)),
 # Class_LigneTitreAller
 '<xs:complexType name="TBlocLignePiece"><xs:sequence>' + el("InfoLignePiece","TInfoLignePiece")
 + '<xs:choice minOccurs="0">'
 + '<xs:element name="InfoPrelevement" minOccurs="0"><xs:complexType><xs:complexContent><xs:extension base="TInfoPrelevement"/></xs:complexContent></xs:complexType></xs:element>'
 + '<xs:element name="InfoPrelevementSEPA" minOccurs="0"><xs:complexType><xs:complexContent><xs:extension base="TInfoPrelevementSEPA"/></xs:complexContent></xs:complexType></xs:element>'
 + '</xs:choice>' + el("InfoAssure","TInfoAssure",1) + el("RattachPiece","TRattachPiece",1) + el("LiensIdent","TLiensIdent",1)
 + '</xs:sequence></xs:complexType>',
 seq("TInfoLignePiece", el("IdLigne",c("Base_Num6")), el("ObjLignePce",c("Base_Texte160"),1), el("CodProdLoc",c("Base_Alphanum4")),
     el("FinGeo",c("Base_Num9_Light"),1), el("CodEtGeo",c("Base_Alphanum3"),1), el("Nature",c("Base_Num12")), el("Fonction",c("Base_Num10_Light"),1),
     el("Operation",c("Base_Alphanum10"),1), el("TxTva",c("Base_Taux"),1), el("Majo",c("Base_Booleen")), el("DteMajo",c("Base_Date"),1),
     el("TxMajo",c("Base_Taux"),1), el("CpteTiers",c("Base_Num12"),1), el("TvaIntraCom",c("Base_Booleen")), el("MtHT",c("Base_Montant")),
     el("MtTVA",c("Base_Montant"),1), el("MtNonMajo",c("Base_Montant"),1), el("InfoCollBen","TInfoCollBen",1), el("PJRef",c("TPJReference"),1,1)),
 seq("TInfoPrelevement", el("NatPrel","TNatPrel"), el("PerPrel","TPerPrel"), el("DtePrel",c("Base_Date")), el("MtPrel",c("Base_Montant"))),
 seq("TInfoPrelevementSEPA", el("NatPrel","TNatPrel"), el("PerPrel","TPerPrel"), el("DtePrel",c("Base_Date")), el("MtPrel",c("Base_Montant")),
     el("SequencePres","TSequencePres"), el("DateSignMandat",c("Base_Date")), el("RefUniMdt",c("Base_Texte35SEPA")), el("LibPrel",c("Base_Texte140SEPA"),1),
     el("AncienRUM",c("Base_Texte35SEPA"),1), el("AncienICS",c("Base_Alphanum13"),1), el("AncienTiersCreancier",c("Base_Texte70SEPA"),1),
     el("AncienneBanque",c("Base_Booleen"),1), el("AncienIBAN",c("Base_Texte34IBAN"),1), el("TitCpteDiff",c("Base_Booleen"),1)),
 seq("TInfoAssure", el("CodAssDeb","TCodAssDeb"), el("CodAyantDroit","TCodAyantDroit",1)),
 seq("TRattachPiece", el("NatPceOrig","TNatPceOrig"), el("ExerRat",c("Base_Annee")), el("IdPceOrig",c("Base_Num13")), el("IdLigneOrig",c("Base_Num6_NonVide"),1)),
 seq("TLiensIdent", el("IdConv",c("Base_Texte25"),1), el("IdMarche",c("Base_Texte30"),1), el("IdCaution",c("Base_Texte25"),1),
     el("IdEmpruntOrdo",c("Base_Texte24"),1), el("IdActif",c("Base_Texte25"),1), el("IdRegie",c("Base_Texte10"),1)),
 seq("TInfoCollBen", el("IdCollBen",c("Base_Num14_Light")), el("CodCollBen",c("Base_Alphanum3")), el("CodBudBen",c("Base_Alphanum2_Light"),1)),
 # Class_RecouvrementRecette
 seq("TRecouvrement", el("TypFlux","TTypFlux"), el("ModRegl","TModRegl"), el("DteReco",c("Base_Date")), el("IdEncaissement",c("Base_Num12")), el("MtReco",c("Base_Montant"))),
 # Class_TiersRecette
 seq("TInfoTiersRecette", el("IdTiers",c("Base_Texte9_15"),1), el("DteNaissance",c("Base_Date"),1), el("NatIdTiers",c("TNatIdTiers"),1),
     el("DteIdTiers",c("Base_Date"),1), el("RefTiers",c("Base_Texte30"),1), el("CatTiers",c("TCatTiers")), el("NatJur",c("TNatJur")),
     el("TypTiers",c("TTypTiers")), el("Civilite",c("Base_Texte10"),1), el("Nom",c("Base_Texte38")), el("ComplNom",c("Base_Texte38"),1), el("Prenom",c("Base_Texte38"),1)),
 # PES_RecetteAller
 '<xs:complexType name="TPES_RecetteAller"><xs:sequence><xs:element name="EnTeteRecette"><xs:complexType><xs:sequence>'
 + el("IdVer",c("Base_Num2")) + el("InfoDematerialisee",c("Base_Booleen"),1)
 + '</xs:sequence></xs:complexType></xs:element>' + el("Bordereau","TBordereau",0,1) + '</xs:sequence></xs:complexType>',
 '<xs:complexType name="TBordereau"><xs:sequence>' + el("BlocBordereau","TBlocBordereau") + el("Piece","TPiece",0,1)
 + '<xs:group ref="ds:PESSignatureGroup" minOccurs="0"/></xs:sequence><xs:attribute name="Id" type="xs:ID" use="optional"/></xs:complexType>',
 seq("TPiece", el("BlocPiece","TBlocPiece"), el("LigneDePiece","TLigneDePiece",0,1)),
 seq("TLigneDePiece", el("BlocLignePiece","TBlocLignePiece"), el("Tiers","TTiers",1,1), el("Recouvrement","TRecouvrement",1,1)),
 seq("TTiers", el("InfoTiers","TInfoTiersRecette"), el("Adresse",c("TAdresse")), el("CpteBancaire",c("TBancaire"),1)),
]
w("NS_Recette/r0/PES_RecetteAller.xsd", "\n".join(parts),
  f' targetNamespace="{REC}" xmlns="{REC}" xmlns:cm="{CM}" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" elementFormDefault="unqualified"')
# ---- Rev0/PES_Aller.xsd: the root, receipts only (depense, facture and PJ parts are optional and absent)
w("Rev0/PES_Aller.xsd", "\n".join([
 f'<xs:import namespace="{REC}" schemaLocation="../NS_Recette/r0/PES_RecetteAller.xsd"/>',
 f'<xs:import namespace="{CM}" schemaLocation="../Class_SchemasCommuns.xsd"/>',
 '<xs:import namespace="http://www.w3.org/2000/09/xmldsig#" schemaLocation="../Class_Signature.xsd"/>',
 '<xs:element name="PES_Aller"><xs:complexType><xs:sequence>' + el("Enveloppe","cm:TEnveloppe") + el("EnTetePES","cm:TEnTetePES")
 + el("PES_RecetteAller","reca:TPES_RecetteAller",1)
 + '<xs:group ref="ds:PESSignatureGroup" minOccurs="0"/></xs:sequence><xs:attribute name="Id" type="xs:ID" use="optional"/></xs:complexType></xs:element>',
]), f' targetNamespace="http://www.minefi.gouv.fr/cp/helios/pes_v2/Rev0/aller" xmlns="http://www.minefi.gouv.fr/cp/helios/pes_v2/Rev0/aller" xmlns:cm="{CM}" xmlns:reca="{REC}" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" elementFormDefault="unqualified"')
from lxml import etree
etree.XMLSchema(etree.parse(os.path.join(R, "Rev0/PES_Aller.xsd")))
print(os.path.join(R, "Rev0/PES_Aller.xsd"))
