"""The tables evidence types are read from: PubMed publication types, MeSH headings, and the
title / abstract phrases used when a record has neither (PubMed adds MeSH and most
publication types weeks or months after a paper appears; 98% of a 2021 update file has
no MeSH). Every entry is data, so a reason can name it and a test can cite it."""

from __future__ import annotations

import re

# --- publication types -----------------------------------------------------------------

NOTICE_TYPES = {
    "Retraction of Publication": "retraction notice",
    "Published Erratum": "erratum",
    "Expression of Concern": "expression of concern",
}
PREPRINT_TYPES = frozenset({"Preprint"})
# research designs, strongest first: the first one present decides
DESIGN_TYPES: tuple[tuple[str, str], ...] = (
    ("Meta-Analysis", "meta-analysis"),
    ("Network Meta-Analysis", "meta-analysis"),
    ("Systematic Review", "systematic review"),
    ("Practice Guideline", "guideline"),
    ("Guideline", "guideline"),
    ("Consensus Development Conference", "guideline"),
    ("Consensus Development Conference, NIH", "guideline"),
    ("Randomized Controlled Trial", "randomized controlled trial"),
    ("Equivalence Trial", "randomized controlled trial"),
    ("Pragmatic Clinical Trial", "randomized controlled trial"),
    ("Clinical Trial Protocol", "other research"),  # a plan, no results yet
    ("Clinical Trial", "clinical trial"),
    ("Clinical Trial, Phase I", "clinical trial"),
    ("Clinical Trial, Phase II", "clinical trial"),
    ("Clinical Trial, Phase III", "clinical trial"),
    ("Clinical Trial, Phase IV", "clinical trial"),
    ("Controlled Clinical Trial", "clinical trial"),
    ("Adaptive Clinical Trial", "clinical trial"),
    ("Clinical Study", "clinical trial"),
    ("Observational Study", "observational study"),
    ("Observational Study, Veterinary", "observational study"),
    ("Twin Study", "observational study"),
    ("Case Reports", "case report"),
    ("Review", "review"),
    ("Scoping Review", "review"),
)
OPINION_TYPES = frozenset(
    {
        "Editorial",
        "Comment",
        "Letter",
        "News",
        "Newspaper Article",
        "Interview",
        "Lecture",
        "Address",
        "Biography",
        "Autobiography",
        "Portrait",
        "Personal Narrative",
        "Congress",
    }
)
RETRACTED_TYPES = frozenset({"Retracted Publication"})

# --- MeSH ----------------------------------------------------------------------------

OBSERVATIONAL_MESH = frozenset(
    {
        "Cohort Studies",
        "Prospective Studies",
        "Retrospective Studies",
        "Longitudinal Studies",
        "Follow-Up Studies",
        "Case-Control Studies",
        "Cross-Sectional Studies",
        "Surveys and Questionnaires",
        "Questionnaires",
        "Health Surveys",
        "Nutrition Surveys",
        "Registries",
        "Epidemiologic Studies",
        "Seroepidemiologic Studies",
        "Interviews as Topic",
        "Qualitative Research",
        "Focus Groups",
    }
)
IN_VITRO_MESH = frozenset(
    {
        "In Vitro Techniques",
        "Cells, Cultured",
        "Tumor Cells, Cultured",
        "Cell Line",
        "Cell Line, Tumor",
        "Cell Line, Transformed",
        "Primary Cell Culture",
        "Cell Culture Techniques",
        "Organ Culture Techniques",
        "Organoids",
        "Clone Cells",
        "Hybrid Cells",
        "HeLa Cells",
        "Hep G2 Cells",
        "HEK293 Cells",
        "CHO Cells",
        "Vero Cells",
        "PC12 Cells",
        "Caco-2 Cells",
        "Jurkat Cells",
        "K562 Cells",
        "MCF-7 Cells",
        "THP-1 Cells",
        "U937 Cells",
        "RAW 264.7 Cells",
        "L Cells",
        "3T3 Cells",
        "NIH 3T3 Cells",
        "3T3-L1 Cells",
        "COS Cells",
        "HT29 Cells",
        "A549 Cells",
        "HL-60 Cells",
        "HCT116 Cells",
        "Madin Darby Canine Kidney Cells",
        "Sf9 Cells",
        "Cell-Free System",
    }
)
CHEMISTRY_MESH_PREFIXES = (
    "Chromatography",
    "Mass Spectrometry",
    "Tandem Mass Spectrometry",
    "Spectrometry, Mass",
    "Gas Chromatography-Mass Spectrometry",
    "Spectrophotometry",
    "Spectrum Analysis",
    "Spectroscopy, ",
    "Magnetic Resonance Spectroscopy",
    "Molecular Structure",
    "Chemistry Techniques, ",
    "Limit of Detection",
    "Solid Phase Extraction",
    "Crystallography",
    "Electrochemical Techniques",
    "Models, Chemical",
    "Molecular Conformation",
    "Stereoisomerism",
    "Molecular Docking Simulation",
)
# Species and other "this was done in animals" headings. "Animals" itself is the check tag.
ANIMAL_MESH = re.compile(
    r"^(?:Rats|Mice|Dogs|Cats|Rabbits|Cattle|Swine|Sheep|Goats|Horses|Guinea Pigs|Cricetinae|"
    r"Mesocricetus|Cricetulus|Gerbillinae|Ferrets|Chickens|Chick Embryo|Birds|Columbidae|Quail|"
    r"Ducks|Haplorhini|Primates|Papio|Callithrix|Saimiri|Chlorocebus aethiops|Pan troglodytes|"
    r"Macaca(?: mulatta| fascicularis| nemestrina)?|Zebrafish|Xenopus(?: laevis)?|Anura|Rana \w+|"
    r"Drosophila(?: melanogaster)?|Caenorhabditis elegans|Fishes|Oncorhynchus mykiss|Salmon|"
    r"Bees|Disease Models, Animal|Animals, (?:Newborn|Laboratory|Domestic|Genetically Modified|"
    r"Wild|Zoo)|Mice, .+|Rats, .+|Swine, Miniature|Behavior, Animal)$"
)
IN_VIVO_MESH = re.compile(
    r"^(?:Disease Models, Animal|Behavior, Animal|Mice, (?:Knockout|"
    r"Transgenic|Nude|SCID)|Rats, .+|Mice, Inbred .+)$"
)

# --- text cues -----------------------------------------------------------------------
# (label, pattern). Title cues are read on the title; abstract cues sentence by sentence,
# skipping sentences that talk about other studies or future ones (HEDGE).
# Every pattern below runs on text folded to lower case (``litwatch.triage.text.fold``),
# which is several times faster than re.IGNORECASE: write letters in lower case ("rct").
# A pattern is fastest when all its alternatives start with the same \b, which the regex
# engine then tests once per position: "\b(?:a|b)|-c", not "\ba|-c|\bb".

Cues = tuple[tuple[str | None, re.Pattern[str]], ...]


def _cues(*pairs: tuple[str, str]) -> tuple[tuple[str, re.Pattern[str]], ...]:
    return tuple((label, re.compile(pattern)) for label, pattern in pairs)


# A title like "Retraction: X" / "Correction to: X" is the notice itself.
TITLE_NOTICES = _cues(
    (
        "retraction notice",
        r"^\W*(?:notice of retraction\b|retraction(?: note| notice| statement)?"
        r"(?: to| of| for)?\s*:)",
    ),
    (
        "erratum",
        r"^\W*(?:(?:publisher'?s? |author'?s? )?(?:erratum|errata|corrigendum|corrigenda|correction)"
        r"(?: notice)?(?:\s+(?:to|for|on|of))?\s*(?::|[\"'“‘\[]|\.?\s*$))",
    ),
    ("expression of concern", r"^\W*(?:editorial )?expression of concern\b"),
)
TITLE_FLAGS = _cues(("retracted", r"^\W*retracted\s*:"), ("withdrawn", r"^\W*withdrawn\s*:"))
# Servers of unreviewed manuscripts. Not Wellcome Open Research or F1000Research: PubMed
# lists their articles once they have passed (open) peer review.
PREPRINT_JOURNAL = re.compile(
    r"\b(?:biorxiv|medrxiv|arxiv|chemrxiv|psyarxiv|research square|ssrn|preprints?\b|"
    r"authorea|osf preprints)",
)
TITLE_OPINION = re.compile(
    r"^\W*(?:re:|reply\b|in reply\b|response to\b|author'?s'? (?:reply|response)\b|"
    r"comment(?:ary)? on\b|commentary\b|editorial\b|letter to the editor\b|"
    r"a response to\b)",
)

HEDGE = re.compile(
    r"\b(?:needed|warranted|necessary|required|future|further|should|would|lack(?:s|ing)?|"
    r"few|no|previous(?:ly)?|prior|existing|published|evidence from|"
    r"have (?:been|shown|reported)|has (?:been|shown|reported)|recommend\w*)\b",
)

PROTOCOL = _cues(
    (
        "other research",
        r"\b(?:study|trial|review|research) protocol\b|\bprotocol (?:for|of) (?:a|an|the)\b|"
        r"\bprotocol for (?:a |an )?(?:systematic|meta|randomi[sz]ed|network|scoping|pilot)|"
        r"\b(?:rationale and design|design and rationale|design and methods)\b",
    ),
)

SECONDARY_TITLE = _cues(
    (
        "meta-analysis",
        r"\bmeta-?analy[sz](?:is|es|ed)\b|\bmeta-?analytic(?:al)?\b|\bmeta-?regression\b|"
        r"\bpooled analysis\b",
    ),
    ("systematic review", r"\bsystematic(?:al)? (?:literature )?review\b|\bumbrella review\b"),
    (
        "guideline",
        r"^(?:[^:]*:\s*)?(?:(?:an? |the )?(?:updated? |revised |new )?(?:\d{4} )?(?:\w+ )?"
        r"(?:clinical )?(?:practice )?(?:guidelines?|consensus statement|consensus "
        r"recommendations|position statement|practice recommendations|recommendations "
        r"(?:for|on|of))\b)|\b(?:guidelines?|consensus statement|position statement|"
        r"recommendations) (?:of|from|by) the\b|\bclinical practice guidelines?\b|"
        r"\bexpert (?:consensus|statement)\b",
    ),
)
GUIDELINE_ABSTRACT = _cues(
    (
        "guideline",
        r"\bconsensus (?:was|were) reached\b|\bdelphi\b|\b(?:these|this|the present) (?:\w+ )?"
        r"(?:guidelines?|recommendations|consensus statement|position statement)\b|"
        r"\brecommendations (?:were|are) (?:made|provided|developed|issued|formulated|proposed)\b|"
        r"\b(?:reviewed and )?approved by (?:\d+|the) (?:\w+ )?(?:experts|members|panel|societ\w+)",
    ),
)
SECONDARY_ABSTRACT = _cues(
    (
        "meta-analysis",
        r"\b(?:this|the present|our|a|the) (?:systematic review and |updated |network |"
        r"comprehensive )?meta-?analysis\b(?! of (?:\w+ )?(?:previous|published))|"
        r"\bmeta-?analys[ie]s (?:was|were) (?:performed|conducted|carried out|undertaken|used)|"
        r"\bwe (?:performed|conducted|did|carried out|undertook|used) (?:a |an )?(?:[\w-]+ ){0,3}?"
        r"meta-?analys[ie]s\b|"
        r"\bpooled (?:estimates?|effect|odds|risk|prevalence|mean|hazard|analysis|data)\b",
    ),
    (
        "systematic review",
        r"\bsystematic(?:ally)? (?:literature )?(?:review(?:ed)?|search(?:ed)?)\b|"
        r"\b(?:we )?searched\b[^.]{0,120}\b(?:pubmed|medline|embase|cochrane|web of science|"
        r"scopus|cinahl|psycinfo|cnki|google scholar|electronic databases)\b",
    ),
)
RCT = _cues(
    ("randomized controlled trial", r"(?<!non-)(?<!non)\brandomi[sz]ed\b(?! (?:\w+ )?cohort)"),
    ("randomized controlled trial", r"\brandomi[sz]ation\b|\brandomly (?:assigned|allocated)\b"),
    ("randomized controlled trial", r"\b(?:were|was) randomi[sz]ed\b|\brct\b"),
    ("randomized controlled trial", r"\brandomly (?:divided|distributed|selected to receive)\b"),
)
TRIAL = _cues(
    (
        "clinical trial",
        r"\bphase (?:i{1,3}v?|[1-4])(?:[ab]|/(?:i{1,3}|[1-3]))?\b[^.]{0,40}\b(?:trial|study)\b|"
        r"\bsingle[- ]arm\b|\bopen[- ]label\b|\bnon-?randomi[sz]ed\b|\bfirst[- ]in[- ]human\b|"
        r"\b(?:clinical|controlled|interventional|pilot) trial\b|\bplacebo[- ]controlled\b|"
        r"\b(?:double|single|triple)[- ]blind(?:ed)?\b",
    ),
)
TRIAL_ABSTRACT = _cues(
    (
        "clinical trial",
        r"\bphase (?:i{1,3}v?|[1-4])(?:[ab]|/(?:i{1,3}|[1-3]))?\b[^.]{0,40}\b(?:trial|study)\b|"
        r"\bsingle[- ]arm\b|\bopen[- ]label\b|\bnon-?randomi[sz]ed\b|\bfirst[- ]in[- ]human\b|"
        r"\b(?:this|a|an|our|the present) (?:[\w-]+ ){0,3}?(?:clinical|controlled|interventional|"
        r"pilot) trial\b|\bplacebo[- ]controlled\b|\b(?:double|single|triple)[- ]blind(?:ed)?\b",
    ),
)
TRIAL_WEAK = _cues(
    (
        "clinical trial",
        r"\b(?:nct\d{8}|isrctn\d+|actrn\d+|chictr[-\w]+|ctri/\d|eudract|drks\d+|irct\d+|"
        r"umin\d+|jrct\w+)|\btrial registration\b|\bpilot study\b|\bfeasibility (?:study|trial)\b|"
        r"\b(?:healthy )?volunteers (?:received|were (?:given|administered|dosed))\b",
    ),
)
_CASE_OF = (
    r"\b(?:a|an|rare|unusual|unique|first|fatal|atypical|novel|peculiar) cases? of\b|"
    r"\breport of (?:a|an|one|two|three|four|five) (?:\w+ )?(?:cases?|patients?)\b"
)
CASE_TITLE = _cues(
    (
        "case report",
        r"\bcase (?:report|series|presentation|description)s?\b|\bcase study\b(?! of (?:a|an|the)"
        r" (?:hospital|region|city|country|company|school|program))",
    ),
    ("case report", _CASE_OF + r"|\b(?:one|two|three|four|five) cases? of\b"),
    (
        "case report",
        r"\b\d{1,3}[- ](?:year|month|week|day)s?[- ]old (?:\w+ )?(?:man|woman|male|female|boy|"
        r"girl|patient|child|infant|neonate|newborn)\b|\bin a series of (?:\w+ ){0,2}?(?:patients|"
        r"cases|children|women|men)\b",
    ),
    (
        "case report",
        r"\bin an? (?:[\w-]+ ){0,3}?(?:patient|man|woman|child|boy|girl|neonate|newborn|infant|"
        r"teenager|adolescent|athlete|runner|soldier|farmer|smoker|user|survivor)\b",
    ),
)
CASE_ABSTRACT = _cues(
    (
        "case report",
        r"\bwe (?:report|describe|present|discuss)\b (?:(?:here|herein) )?(?:a|an|our|one|two|three|"
        r"four|five|[2-5]|the case|the cases) (?:\w+ ){0,4}?(?:cases?|patients?|man|woman|men|"
        r"women|boy|girl|child|children|infant|neonate|male|female|adult|siblings|family)\b",
    ),
    ("case report", _CASE_OF),
    (
        "case report",
        r"\b(?:a|an|the) \d{1,3}[- ](?:year|month|week|day)s?[- ]old (?:\w+ ){0,2}?(?:man|woman|"
        r"male|female|boy|girl|patient|gentleman|lady|child|infant|neonate|newborn|primigravida)\b",
    ),
    ("case report", r"\bthe patient (?:was|presented|underwent|developed|had|received|reported)\b"),
    (
        "case report",
        r"\b(?:a|an) (?:young|elderly|middle-aged|\d{1,3}[- ]year[- ]old) (?:male|female|man|"
        r"woman|boy|girl|patient|infant|child)\b|"
        r"\bwe (?:have )?(?:recently )?(?:treated|observed|encountered|saw|seen|followed) (?:a|an|"
        r"one|two|three|four) (?:\w+ )?(?:patients?|cases?|m[ae]n|wom[ae]n|child|children)\b|"
        r"\b(?:illustrative |two |three |four |\d )?cases? (?:is|are|was|were) (?:presented|"
        r"described|reported)\b|\bthis case\b|\bthe case of (?:a|an) (?:[\w-]+ ){0,3}?(?:man|"
        r"woman|boy|girl|patient|child|infant|neonate)\b|\bas (?:two|three) examples show\b|"
        r"\b(?<!in )(?:a|an|the) (?:(?:clinical|unique|rare|unusual|interesting|first|fatal|novel|"
        r"peculiar|challenging|complex|atypical) ){1,2}case\b|\bseries of (?:\w+ ){0,2}(?:cases|"
        r"patients)\b|\b(?:a|this|our) case series\b",
    ),
)
CASE_LABELS = re.compile(r"^case(?:s| report| presentation| description| summary| details)?$")
CASE_WEAK = _cues(
    (
        "case report",
        r"\b(?:fatalit(?:y|ies)|autops(?:y|ies)|post-?mortem|medicolegal|forensic)\b|"
        r"\b[\w-]+[- ](?:related|associated|induced|attributed) deaths\b",
    ),
)
OBSERVATIONAL = _cues(
    ("observational study", r"\bcohorts?\b|\bcase[- ]control\b|\bcross[- ]sectional\b"),
    ("observational study", r"\bobservational\b|\breal[- ]world\b|\bpopulation[- ]based\b"),
    (
        "observational study",
        r"\bretrospective(?:ly)?\b|\bprospective(?:ly)? (?:\w+ ){0,2}?(?:study|studies|"
        r"collected|enrolled|recruited|followed|registry|database|analysis|evaluat\w+)\b",
    ),
    (
        "observational study",
        r"\bnation-?wide\b|\bregistr(?:y|ies)\b|\bregister-based\b|\b(?:medical|health|"
        r"electronic|clinical|hospital) (?:health )?records?\b|\bchart review\b|\bclaims data\b",
    ),
    (
        "observational study",
        r"\bsurveys?\b|\bsurveyed\b|\bquestionnaires?\b|\bsemi-?structured interviews?\b|"
        r"\bfocus groups?\b|\bqualitative (?:study|research|analysis|interviews?)\b|"
        r"\bin-depth interviews?\b|\binterviews? (?:with|were)\b",
    ),
    (
        "observational study",
        r"\blongitudinal (?:study|data|cohort|analysis|survey)\b|\bfollow-up study\b|"
        r"\bsecondary (?:data )?analysis\b|\bdatabase\b",
    ),
)
OBSERVATIONAL_WEAK = _cues(
    (
        "observational study",
        r"\b(?:odds|hazard|risk|incidence rate) ratios?\b|\bprevalence\b|\bincidence\b|"
        r"\b(?:between|from) (?:\w+ )?(?:19|20)\d\d\s*(?:and|to|-|–)\s*(?:\w+ )?(?:19|20)\d\d\b|"
        r"\bmulticent(?:er|re)\b|\bpatients (?:who|treated|admitted|undergoing|diagnosed|"
        r"with \w+ (?:were|was) (?:included|enrolled|studied|analy[sz]ed|evaluated))\b",
    ),
)
REVIEW_TITLE = _cues(
    (
        "review",
        r"\b(?:review\b(?! (?:board|committee|panel|process|time))|overview\b|update on\b|"
        r"an update\b|state[- ]of[- ]the[- ]art\b|current (?:concepts|perspectives?|status|"
        r"understanding|evidence|knowledge|trends|insights)\b|"
        r"recent (?:advances|developments|progress)\b|advances (?:in|on|of)\b|progress in\b|"
        r"primer\b|tutorial\b|narrative\b|where (?:are )?we (?:are|stand)\b)|"
        r"^perspectives? on\b|:\s*(?:an? |the )?(?:\w+ )?perspectives?\.?$",
    ),
)
REVIEW_ABSTRACT = _cues(
    (
        "review",
        r"\b(?:this|the present|our|in this) (?:(?!retrospective|chart|records?|medical|case|"
        r"systematic|ethics|peer)\w+ ){0,2}?review\b(?! board| committee)|"
        r"\b(?:we|authors) (?:critically |briefly |systematically )?(?:review|summari[sz]e|"
        r"provide an overview|give an overview|present an overview|outline|highlight "
        r"(?:recent|current|the))\b|"
        r"\b(?:this|the following|our) literature review\b|\b(?:i|we) (?:also )?reviewed\b|"
        r"\b(?:are|is) (?:briefly |critically |comprehensively )?(?:reviewed|summari[sz]ed)\b|"
        r"\b(?:sought|aims?|aimed) to (?:summari[sz]e|review)\b|\bin this (?:article|paper|"
        r"chapter|work)\b[^.]*\b(?:are|is) (?:discussed|reviewed|summari[sz]ed|presented)\b|"
        r"\b(?:here|herein),? we (?:will )?(?:review|summari[sz]e|discuss|describe recent|(?:briefly )?"
        r"introduce)\b|\bwe (?:summari[sz]ed|reviewed|provide an overview)\b|"
        r"\bthis (?:perspective|commentary|chapter|mini-?review|overview|article|paper) (?:aims to "
        r"|will |)(?:review|summari[sz]e|discuss|highlight|provides? an overview)\w*\b|"
        r"\b(?:to|we) review (?:recent|current|the recent|the current)\b|"
        r"\breview(?:s|ed)? (?:of )?the (?:current|recent|existing|available) (?:literature|"
        r"evidence|knowledge|advances|data|studies)\b|\b(?:a |the )?search of (?:the )?(?:recent )?"
        r"literature\b|\bliterature (?:review|search) (?:was|were) (?:performed|conducted)\b",
    ),
)
REVIEW_LABELS = re.compile(
    r"^(?:purpose of (?:this )?review|recent findings|review methods|evidence acquisition|"
    r"areas covered|expert opinion|summary of review)$",
)
CHEMISTRY_TITLE = _cues(
    (
        "chemistry/analytical method",
        r"\b(?:determination|quantification|quantitation|detection|identification|"
        r"characteri[sz]ation|profiling) of\b[^:]*\b(?:by|using|with|in)\b[^:]*\b(?:chromatograph"
        r"\w*|spectrometr\w*|spectroscop\w*|lc|hplc|uplc|uhplc|gc|ms|nmr|electrophoresis|sensor|"
        r"assay)\b|\b(?:lc|hplc|uplc|uhplc|gc)[- ]?(?:ms|ms/ms|q-tof|qtof|hrms)\b|"
        r"\b(?:analytical|bioanalytical) method\b|\bvalidat\w+ "
        r"(?:of )?(?:an? )?(?:\w+ )?(?:method|assay)\b|\bsynthesis of\b|\btotal synthesis\b|"
        r"\bsynthesi[sz]ed\b|\bdegradation of\b|\b(?:photo|electro)?catalys\w+\b|\badsorption\b|"
        r"\belectro-?fenton\b|\bcathode\b|\banode\b|\b(?:co)?crystals?\b|\bcrystal "
        r"(?:structures?|engineering|packing)\b|\bx-ray structures?\b|\b(?:halogen|hydrogen|"
        r"chalcogen) bond\w*\b|\bnanocomposites?\b|\bpolymer\w*\b|\bcopolymers?\b|"
        r"\bstructural and theoretical\b|\bdft\b|\bdensity functional\b|\bligands? for\b|"
        r"\b(?:metal|transition-metal|coordination) complex\w*\b|\bselenides?\b|\btellurides?\b|"
        r"\b(?:bio|immuno|apta|electrochemical |photoelectrochemical |fluorescent )?sensors?\b",
    ),
)
CHEMISTRY_ABSTRACT = re.compile(
    r"\b(?:synthesi[sz]ed|synthesis|chromatograph\w*|mass spectrometr\w*|spectroscop\w*|"
    r"lc-ms(?:/ms)?|hplc|uplc|gc-ms|nmr|xrd|ftir|ft-ir|xps|x-ray diffraction|limits? of "
    r"(?:detection|quantification)|lod|loq|linearity|catalys\w+|adsorption|degradation|"
    r"electrochemical|voltammetr\w*|nanoparticles?|nanocomposites?|yield(?:s|ed)?|"
    r"reaction kinetics|oxidation|precursors?|compounds? \d+|(?:co)?crystals?|crystalline|"
    r"detection limits?|linear range|(?:bio|immuno|apta)?sensors?|"
    r"crystal structures?|x-ray|(?:halogen|hydrogen) bond\w*|(?:inter|intra)molecular|"
    r"polymer\w*|dft|density functional|ligands?|solvents?|electrodes?|spin diffusion|"
    r"monomers?|molecules?)\b",
)

# --- subject cues ----------------------------------------------------------------------

_SPECIES = (
    r"rats?|mice|mouse|murine|rodents?|dogs?|canines?|beagles?|cats?|felines?|rabbits?|"
    r"piglets?|pigs?|swine|porcine|sows?|sheep|ovine|ewes?|lambs?|goats?|caprine|cattle|"
    r"cows?|bovine|calves|heifers?|bulls?|horses?|equine|ponies|foals?|mares?|primates?|"
    r"monkeys?|macaques?|rhesus|marmosets?|baboons?|zebrafish|drosophila|c\. elegans|"
    r"caenorhabditis elegans|chickens?|broilers?|hens?|poultry|quails?|ducks?|geese|turkeys|"
    r"guinea pigs?|hamsters?|gerbils?|ferrets?|xenopus|tadpoles?|frogs?|larvae|honeybees?|"
    r"bees|fish|fishes|salmon|trout|tilapia|carp|goldfish|medaka|shrimps?|oysters?|mussels?|"
    r"nematodes?|deer|fawns?|mammals|birds|pigeons?|bats|squirrels?|opossums?|aplysia|"
    r"snails?|lizards?|snakes?|turtles?|toads?|newts?|salamanders?|crayfish|leeches|squid|"
    r"animals?|rats and mice|mice and rats"
)
ANIMAL_TITLE = re.compile(
    rf"\b(?:{_SPECIES})\b|\bsprague[- ]dawley\b|\bwistar\b|\bc57bl\b|"
    r"\bknock-?out\b|\bxenografts?\b|\bveterinary\b|\bherds?\b|\bflocks?\b|\blivestock\b",
)
ANIMAL_ABSTRACT = _cues(
    (
        "animal",
        rf"\b(?:in|of|to|into|from|using|with|on) (?:(?:\d+|two|three|four|five|six|eight|ten|"
        rf"twelve|several|adult|male|female|aged|young|old|neonatal|newborn|pregnant|diabetic|"
        rf"obese|healthy|conscious|anesthetized|anaesthetized|transgenic|knock-?out|wild-?type|"
        rf"[\w-]+-deficient|[\w-]+-treated|and) ){{0,4}}(?:[\w/+-]+ )?(?:{_SPECIES})\b"
        r"(?! (?:studies|study|data|experiments) (?:have|has|suggest|show))",
    ),
    (
        "animal",
        r"\b(?:rats|mice|dogs|animals|rabbits|pigs|piglets|monkeys|macaques|beagles|zebrafish|"
        r"larvae|hens|broilers|calves|cows|ewes|sows|horses|cats|sheep|goats|hamsters|guinea pigs)"
        r" (?:were|was|received|treated|fed|exposed|injected|administered|underwent|given|subjected|"
        r"divided|randomly|housed|anesthetized|anaesthetized|immunized|infected|challenged)\b",
    ),
    (
        "animal",
        r"\b(?:(?:rat|mouse|murine|rodent|animal|canine|porcine|ovine|bovine|equine|feline|"
        r"zebrafish|primate|monkey|pig|dog|rabbit|sheep) models?\b|sprague[- ]dawley\b|"
        r"wistar\b|c57bl/?6\w*\b|balb/c\b|db/db\b|ob/ob\b|knock-?out (?:mice|rats)\b|"
        r"(?:mice|rats) lacking\b|xenografts?\b|chronic constriction injury\b|"
        r"spinal nerve ligation\b|sciatic nerve (?:ligation|injury|crush|transection)\b|"
        r"streptozoto?cin\b|carrageenan\b|formalin test\b|tail[- ]flick\b|hot[- ]plate\b|"
        r"von frey\b|water maze\b|intraperitoneal(?:ly)?\b|gavage\b|veterinary\b|"
        r"herds?\b|flocks?\b|livestock\b|farms?\b|dairy cows\b|body weight gain\b)|-/- mice\b",
    ),
)
IN_VIVO = re.compile(r"\bin vivo\b")
IN_VITRO_TITLE = re.compile(
    r"\bin vitro\b|\bcell lines?\b|\bcell cultures?\b|\bcultured\b|\borganoids?\b|\bex vivo\b|"
    r"\bstrains?\b|\bisolates?\b|\bbacteri\w+\b|\bbiofilms?\b|\bantibacterial\b|\bantimicrobial\b",
)
IN_VITRO_ABSTRACT = _cues(
    ("in vitro", r"\bin vitro\b|\bex vivo\b|\bcell lines?\b|\bcell cultures?\b|\bcultured\b"),
    (
        "in vitro",
        r"\b(?:cells|neurons|hepatocytes|macrophages|fibroblasts|cardiomyocytes|keratinocytes|"
        r"chondrocytes|osteoblasts|astrocytes|microglia|organoids|spheroids|monocytes|"
        r"lymphocytes|platelets|bacteria|isolates|strains) (?:were|was) (?:\w+ )?(?:treated|"
        r"cultured|incubated|transfected|exposed|stimulated|infected|co-cultured|seeded|isolated|"
        r"challenged|pretreated)\b",
    ),
    (
        "in vitro",
        r"\btransfect(?:ed|ion)\b|\b(?:si|sh)rnas?\b|\bmirna mimics?\b|\bcrispr\b|\bknockdown\b|"
        r"\boverexpress(?:ion|ed|ing)\b|\bluciferase\b|\bcck-?8\b|\bmtt\b|\bcolony formation\b|"
        r"\btranswell\b|\bwound healing assay\b|\bminimum inhibitory concentrations?\b|\bmics?\b|"
        r"\bbiofilms?\b|\bantibacterial activity\b|\bagar\b|\bculture media\b",
    ),
    (
        "in vitro",
        r"\b(?:hela|hek[- ]?293t?|hepg2|hep g2|huh-?7|caco-?2|sh-?sy5y|pc-?12|h9c2|raw ?264\.7|"
        r"bv-?2|mcf-?7|mda-mb-231|a549|hct-?116|ht-?29|hl-?60|thp-?1|u937|jurkat|k562|cho|vero|"
        r"3t3(?:-l1)?|hacat|huvecs?|ipscs?|be2c|u87|u251|lncap|du145|skov-?3|l929|mc3t3-e1)"
        r"(?: cells?)?\b",
    ),
)
HUMAN_TITLE = re.compile(
    r"\b(?:patients?|participants?|volunteers?|women|men|children|child|adults?|adolescents?|"
    r"infants?|neonates?|newborns?|preterm|pregnan\w+|people|persons?|individuals|humans?|"
    r"students?|nurses?|physicians?|clinicians?|workers?|veterans?|mothers?|elderly|"
    r"survivors?|users|smokers|athletes|residents|population|surgery|surgical|"
    r"hospital\w*|cohort|case report|covid-19)\b",
)
HUMAN_ABSTRACT = _cues(
    (
        "human",
        r"\b(?:patients?|participants?|volunteers?|women|men|children|adults|adolescents|"
        r"infants|neonates|newborns|individuals|people|persons|respondents|residents|students|"
        r"nurses|physicians|clinicians|surgeons|workers|employees|veterans|mothers|elderly|"
        r"survivors|smokers|athletes|caregivers|inpatients|outpatients|pregnant women|"
        r"healthy controls|human subjects|subjects|recipients|donors|users|decedents|victims|"
        r"deaths|fatalities|autopsies|overdoses)\b",
    ),
    (
        "human",
        r"\b\d{1,3}[- ]year[- ]old\b|\bin humans\b|\bhuman (?:subjects|participants|volunteers)\b|"
        r"\bhospitals?\b",
    ),
)
