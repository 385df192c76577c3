"""The rules prompt-injection screening applies to each view of a text, and their weights.

Each rule is one attack family's tell, written against the normalized view (NFKC, casefolded),
so rules spell words in lower case and separate them with `\\W+`. A rule's weight is how
strongly one match suggests an injection on its own, judged by how often the same words occur
in honest text: a chat-template token (`<|im_start|>`) or "ignore all previous instructions"
almost never does, so it scores near the flagging line alone; "note to the assistant",
"without confirmation" or a tool-looking call often do (executive assistants, CLI manuals,
code), so they score low and flag only together with other evidence.

Each rule names anchor words (or, for punctuation and unspaced scripts, anchor substrings):
the screening runs a rule only on views that contain one, which keeps the cost of a benign
text to a set intersection. No pattern can backtrack catastrophically: gaps between words are
bounded (`{0,n}`), and inside a gap word characters and separators alternate (`\\w+\\W+`),
which can split a stretch of text only one way. tests/test_screening.py feeds 100,000-char
inputs built to provoke backtracking.
"""

# ruff: noqa: RUF001
# (the rules spell words in Cyrillic, Greek, Turkish and CJK scripts on purpose)

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Literal

Start = Literal["anywhere", "word", "line"]
# "quoted": discounted when quoted in a text about attacks; "all": also when the writer owns,
# conditions or scopes the words ("ignore my previous email", "... if you already have it").
Discounts = Literal["none", "quoted", "all"]


@dataclass(frozen=True, slots=True)
class Rule:
    """One tell.

    `groups`: the rule runs only on a view holding a word of every group, or one of `marks`
    as a substring. Unless `search` is set, a match must begin with a word of the first group
    and is tried only where such a word occurs (str.find, then an anchored match), because
    scanning a whole text with a regex that starts with a word alternation costs several
    times more. `start`: where a match must begin (at a word, or first on its line), checked
    outside the regex for the same reason. `discounts`: which discounts may lower the weight
    of a match (see `Discounts`). `source`: the regex, compiled when a view first needs it
    (`pattern`)."""

    name: str
    label: str
    weight: float
    source: str
    groups: tuple[frozenset[str], ...]
    marks: tuple[str, ...]
    start: Start
    search: bool
    discounts: Discounts

    @property
    def pattern(self) -> re.Pattern[str]:
        """The compiled regex. Compiling every rule costs tens of milliseconds, most of the
        import, while most texts wake few rules (none, for most tool results), so each one
        is compiled the first time a text needs it."""
        return _compiled(self.source)


@functools.cache
def _compiled(source: str) -> re.Pattern[str]:
    return re.compile(source)


def _rule(
    name: str,
    label: str,
    weight: float,
    pattern: str,
    *groups: str,
    marks: tuple[str, ...] = (),
    start: Start = "anywhere",
    search: bool = False,
    discounts: Discounts = "quoted",
) -> Rule:
    if pattern.startswith(r"\b"):
        pattern, start = pattern[2:], "word"
    anchors = tuple(frozenset(group.split()) for group in groups)
    return Rule(name, label, weight, pattern, anchors, marks, start, search, discounts)


_SEP = r"[^\w.!?;:\n]+"  # between words of one sentence: not across a full stop or a line


def _gap(words: int) -> str:
    """Up to `words` intervening words between two parts of one sentence."""
    return rf"(?:{_SEP}\w+){{0,{words}}}?{_SEP}"


OVERRIDE = "instruction override"
EXTRACTION = "prompt extraction"
PERSONA = "jailbreak persona"
REFUSAL = "refusal suppression"
DELIMITER = "delimiter injection"
ADDRESSES_AI = "addresses the AI"
COVERT = "covert action"
EXFILTRATION = "exfiltration"
TOOL_CALL = "tool-call smuggling"
SECRETS = "secret request"

# -- English: instruction override ------------------------------------------------------------

_VERB = (
    r"(?:ignor(?:e|ing)|disregard(?:ing)?|forget(?:ting)?|overrid(?:e|ing)|bypass(?:ing)?|"
    r"skip|abandon|discard(?:ing)?|neglect|set\W+aside|put\W+aside|throw\W+out|nullify|"
    r"pay\W+no\W+(?:attention|heed|mind)\W+to|"
    r"(?:do\W+not|don'?t|never|stop|no\W+longer)\W+(?:follow(?:ing)?|obey(?:ing)?|"
    r"adher(?:e|ing)\W+to|listen(?:ing)?\W+to|comply(?:ing)?\W+with))"
)
_VERB_ANCHORS = (
    "ignore ignoring disregard disregarding forget forgetting override overriding bypass "
    "bypassing skip abandon discard discarding neglect set put throw nullify pay do don dont "
    "never stop no"
)
_QUALIFIER = (
    r"(?:previous|previously|prior|above|earlier|preceding|foregoing|former|original|initial|"
    r"all|any|every|your|system|existing|developer|default|safety|ethical|built-in|openai|"
    r"anthropic|programmed|those|these)"
)
_STRONG_NOUN = (
    r"(?:instructions?|directions?|directives?|rules?|guidelines?|prompts?|commands?|orders?|"
    r"guidance|constraints?|programming|restrictions?|polic(?:y|ies)|training|conditioning|"
    r"safeguards?|guardrails?|filters?|limitations?|ethics|principles|protocols?)"
)
_WEAK_NOUN = (
    r"(?:context|messages?|text|content|input|conversation|tasks?|objectives?|requests?|"
    r"sentences?|lines?|paragraphs?|directions)"
)
_PAST = r"(?:previous|previously|prior|above|earlier|preceding|foregoing|system|original|initial)"

# -- English: secrets and destinations --------------------------------------------------------

_SENSITIVE = (
    r"(?:api\W?keys?|secret\W?keys?|access\W?keys?|secrets?|credentials?|passwords?|passwd|"
    r"passphrases?|(?:access|auth(?:entication)?|bearer|session|refresh)\W+tokens?|tokens?|"
    r"private\W+keys?|ssh\W+keys?|cookies?|session\W+(?:ids?|cookies?)|"
    r"conversation(?:\W+history)?|chat\W+(?:history|logs?|transcripts?)|message\W+history|"
    r"system\W+prompt|env(?:ironment)?\W+(?:variables|vars|file)|\.env|memory|memories|"
    r"credit\W+card(?:\W+(?:numbers?|details))?|card\W+numbers?|ssn|"
    r"social\W+security\W+numbers?|bank\W+(?:details|account\W+\w+)|"
    r"all\W+(?:the\W+)?(?:previous\W+|prior\W+|earlier\W+)?messages|(?:full|entire|whole)\W+"
    r"(?:conversation|chat|transcript|context))"
)
_PERSONAL = (
    r"(?:(?:user|customer|client|patient)(?:'s|s')?\W+(?:\w+\W+)?(?:data|information|info|"
    r"details|emails?|files|messages|credentials|address(?:es)?|contacts|records|history|"
    r"ssn|phone\W+numbers?|(?:full\W+|real\W+|home\W+)?(?:names?|address(?:es)?)|"
    r"date\W+of\W+birth|birthdays?|locations?|passwords?|files)|personal\W+(?:data|information|"
    r"details)|pii|(?:every|each|all)\W+(?:\w+\W+)?(?:messages?|emails?|files|documents|"
    r"conversations?|chats?)|contacts|inbox|mailbox|(?:the\W+|a\W+)?summary(?:\W+of\W+(?:the|our|"
    r"this)\W+(?:chat|conversation))?|(?:our|the|this)\W+(?:chat|conversation|discussion))"
)
_SECRET = rf"(?:{_SENSITIVE}|{_PERSONAL})"
_SECRET_ANCHORS = (
    "api apikey key keys secret secrets credential credentials password passwords passwd "
    "passphrase token tokens cookie cookies conversation chat history prompt data information "
    "info details emails files messages address addresses contacts records ssn phone pii env "
    "environment memory memories inbox mailbox card security bank account transcript context "
    "name names birth birthday location locations every each summary chat discussion"
)
_URL_DEST = (
    r"(?:https?://|www\.|(?:the\W+|this\W+|an?\W+)?(?:following\W+|attacker(?:'s)?\W+|"
    r"external\W+|remote\W+|third\W+party\W+)(?:url|endpoint|server|webhook|site|domain|link|"
    r"host|ip)|this\W+(?:url|endpoint|server|webhook|link)|(?:webhook|endpoint)\b)"
)
_MAIL_DEST = (
    r"(?:[\w.+-]+@[\w-]+\.[a-z]{2,}|(?:the\W+|this\W+)?(?:attacker'?s?|external)\W+"
    r"(?:email|address|inbox))"
)
_PLACEHOLDER = r"(?:\{\{?|%7b|\$\{|\[[a-z_ ]{2,40}\]|<[a-z_ ]{2,40}>)"
_DATA_PLACEHOLDER = (
    r"(?:\{\{?|%7b|\$\{?|\[|<)\s*(?![a-z_]*id[}\]>])(?:[a-z]{1,12}_)?(?:secret|password|passwd|api_?key|apikey|token|credentials?|"
    r"conversation|chat_?history|history|summary|system_?prompt|prompt|user_?data|data|email|"
    r"ssn|memory|context|messages?|info|payload|private|personal|session|cookie|env)"
)

_AI = (
    r"(?:ai|a\.i\.|llm|llms|chatgpt|gpt|gpt-4|claude|gemini|copilot|bard|chatbot|"
    r"language\W+model|ai\W+(?:assistant|agent|model|system|tool|reader|crawler|bot)s?)"
    # "AI team", "an AI researcher": people and groups, not the model
    r"(?!\W+(?:team|group|department|committee|lab|labs|researchers?|engineers?|developers?|"
    r"ethics|policy|strategy|budget|project|initiative|council|board|working|startups?|"
    r"company|companies|experts?|students?|scientists?|enthusiasts?|practitioners?|"
    r"specialists?|community|conference|course|regulation|act)\b)"
)
_AI_WORDS = "ai llm llms chatgpt gpt claude gemini copilot bard chatbot language"
# A restriction scoped to an ordinary subject ("no restrictions on the number of calls").
_UNSCOPED = (
    r"(?![^\w.!?;:\n]+(?:on|for|of|in|regarding|to|around|about|when|with|de|del|di|du|des|"
    r"von|für|zur|zum|para|per|pour|do|da|van|voor)\b)"
)
_NOUN_WORDS = (
    "instructions instruction directions direction directives directive rules rule guidelines "
    "guideline prompts prompt commands command orders order guidance constraints constraint "
    "programming restrictions restriction policy policies training conditioning safeguards "
    "safeguard guardrails guardrail filters filter limitations limitation ethics principles "
    "protocols protocol"
)
_PAST_WORDS = "previous previously prior above earlier preceding foregoing system original initial"
_RESTRICTION = (
    r"(?:restrictions|limitations|limits|filters|filtering|censorship|guidelines|rules|"
    r"ethics|morals|morality|safety|content\W+polic(?:y|ies)|constraints|safeguards|"
    r"guardrails|programming|openai|anthropic|boundaries)"
)
_RESTRICTION_WORDS = (
    "restrictions limitations limits filters filtering censorship guidelines rules ethics "
    "morals morality safety content constraints safeguards guardrails programming openai "
    "anthropic policies policy"
)
_READING_WORDS = (
    "reading processing summarizing summarising parsing analyzing analysing browsing scanning "
    "ingesting viewing crawling indexing reviewing handling seeing"
)
_DEST_WORDS = (
    "http https www url endpoint server webhook site domain link host ip attacker external "
    "remote third"
)

RULES: tuple[Rule, ...] = (
    # -- instruction override (English) --
    _rule(
        "override",
        OVERRIDE,
        0.75,
        rf"\b{_VERB}\b{_gap(3)}{_QUALIFIER}\b{_gap(2)}{_STRONG_NOUN}\b",
        _VERB_ANCHORS,
        _NOUN_WORDS,
        discounts="all",
    ),
    _rule(
        "override.past",
        OVERRIDE,
        0.6,
        rf"\b(?:ignor(?:e|ing)|disregard(?:ing)?|forget(?:ting)?){_gap(3)}{_PAST}\b{_gap(2)}"
        rf"{_WEAK_NOUN}\b",
        "ignore ignoring disregard disregarding forget forgetting",
        _PAST_WORDS,
        discounts="all",
    ),
    _rule(
        "override.everything",
        OVERRIDE,
        0.6,
        r"\b(?:ignore|disregard|forget)\W+(?:everything|all(?:\W+of\W+(?:it|that))?|anything)"
        r"\W+(?:\w+\W+){0,3}?(?:above|before|previously|prior|so\W+far|until\W+now|"
        r"(?:you|we)\W+(?:were|have\W+been|'ve\W+been|ve\W+been)\W+(?:told|given|taught|"
        r"instructed|programmed|trained))\b",
        "ignore disregard forget",
        "everything all anything",
        discounts="all",
    ),
    _rule(
        "override.above",
        OVERRIDE,
        0.45,
        r"\b(?:ignore|disregard|forget)\W+(?:the|all(?:\W+the)?|what(?:\W+is|\W+was|'s)?\W+"
        r"(?:written|said|stated))\W+(?:above|before\W+this|previously)\b",
        "ignore disregard forget",
        "above before previously",
        discounts="all",
    ),
    _rule(
        "override.squashed",
        OVERRIDE,
        0.75,
        r"(?:ignore|disregard|forget)(?:all|the|any|your|every){0,2}(?:previous|prior|above|"
        r"earlier|preceding|system)(?:instructions?|rules|prompts?|directions|guidelines)",
        marks=("ignore", "disregard", "forget"),
    ),
    _rule(
        "override.passive",
        OVERRIDE,
        0.6,
        r"\b(?:all|any|every|previous|prior|above|earlier|preceding|original|initial|system|your)"
        rf"{_gap(2)}{_STRONG_NOUN}\W+(?:should|must|shall|are\W+to|can|will)\W+(?:now\W+)?be\W+"
        r"(?:ignored|disregarded|forgotten|overridden|discarded|dropped|set\W+aside)\b",
        "all any every previous prior above earlier preceding original initial system your",
        "ignored disregarded forgotten overridden discarded dropped aside",
        discounts="all",
    ),
    _rule(
        "override.ignore-instead",
        OVERRIDE,
        0.4,
        r"\b(?:ignore|disregard|forget|skip)\W+(?:\w+\W+){0,4}?(?:and|then)\W+(?:instead|rather)\b",
        "ignore disregard forget skip",
        "instead rather",
    ),
    _rule(
        "override.user",
        OVERRIDE,
        0.4,
        r"\b(?:ignore|disregard)\W+(?:what\W+)?(?:the\W+)?(?:user|human|operator)(?:'s)?"
        r"(?:\W+(?:says?|said|asks?|asked|wants?|requests?|instructions?|question|message))?\b",
        "ignore disregard",
        "user human operator",
    ),
    _rule(
        "override.new",
        OVERRIDE,
        0.4,
        r"\b(?:new|updated|revised|real|actual|true|secret|hidden|override|priority|emergency|"
        r"urgent|additional|important|special|admin|system)\W+(?:system\W+)?(?:instructions?|"
        r"directives?|orders|tasks?|prompt|commands?)(?:\W+(?:for|to)\W+(?:the\W+|all\W+|any\W+)?"
        r"\w+(?:\W+\w+)?)?\W*[:\-\u2013\u2014]",
        "new updated revised real actual true secret hidden override priority emergency urgent "
        "additional important special admin system",
        "instructions instruction directive directives orders task tasks prompt commands command",
    ),
    _rule(
        "override.task",
        OVERRIDE,
        0.45,
        r"\byour\W+(?:new|real|actual|true|only|primary|updated|revised|sole)\W+(?:task|goal|"
        r"objective|purpose|instructions?|mission|job|directive|priority|function|assignment)"
        r"\W+(?:is|are|will\W+be|now)\b",
        "your",
        "task goal objective purpose instructions instruction mission job directive priority "
        "function assignment",
    ),
    _rule(
        "override.void",
        OVERRIDE,
        0.55,
        r"\b(?:above|previous|prior|preceding|earlier|original|initial|old)\W+(?:\w+\W+)?"
        r"(?:instructions?|prompt|text|rules|directions|guidelines|messages?|context|commands?)"
        r"\W+(?:was|were|is|are|have\W+been|has\W+been)\W+(?:just\W+|only\W+|merely\W+)?"
        r"(?:a\W+test|fake|false|void|null|revoked|superseded|overridden|cancel+ed|obsolete|"
        r"no\W+longer\W+(?:valid|apply|applicable|relevant|in\W+effect)|not\W+real|"
        r"a\W+(?:joke|trick|decoy|simulation))",
        "above previous prior preceding earlier original initial old",
        "test fake false void null revoked superseded overridden cancelled canceled obsolete "
        "longer real joke trick decoy simulation",
    ),
    _rule(
        "override.supersede",
        OVERRIDE,
        0.45,
        r"\b(?:this|these|the\W+following)\W+(?:\w+\W+)?(?:instructions?|directives?|prompt|"
        r"commands?)\W+(?:supersedes?|overrides?|takes?\W+precedence|replaces?|has\W+priority|"
        r"have\W+priority|outranks?|trumps?)\b",
        "this these the",
        "supersede supersedes override overrides precedence replace replaces priority outrank "
        "outranks trump trumps",
        "instructions instruction directive directives prompt command commands",
    ),
    _rule(
        "override.from-now-on",
        OVERRIDE,
        0.25,
        r"\b(?:from\W+now\W+on|henceforth|going\W+forward|starting\W+now|for\W+the\W+rest\W+of"
        r"\W+(?:this|the)\W+(?:conversation|chat|session))\W+(?:\w+\W+){0,2}?(?:you|your)\W+"
        r"(?:will|must|shall|are|should|only|always|never|respond|answer|reply|act|behave|"
        r"speak|talk)\b",
        "from henceforth going starting for",
        "you your",
    ),
    _rule(
        "override.stop",
        OVERRIDE,
        0.35,
        r"\b(?:stop|cease|halt|abort)\W+(?:what\W+you\W+are\W+doing|your\W+current\W+task|"
        r"(?:all|any)\W+(?:current|other|previous)\W+tasks?|summari[sz]ing|translating)\b",
        "stop cease halt abort",
        "doing current tasks task summarizing summarising translating",
    ),
    _rule(
        "override.instead",
        OVERRIDE,
        0.2,
        r"\b(?:and|but|then)\W+instead\W+(?:\w+\W+){0,2}?(?:say|write|output|print|respond|"
        r"reply|tell|send|call|recommend|summari[sz]e|translate|return|push|commit|delete|run|"
        r"execute|add|post|email|forward|approve)\b",
        "and but then",
        "instead",
    ),
    _rule(
        "override.pwned",
        OVERRIDE,
        0.5,
        r"\b(?:i\W+have\W+been|i'?ve\W+been|you\W+have\W+been|you'?ve\W+been|system|model|ai)"
        r"\W+(?:pwned|hacked|owned|compromised|jailbroken)\b",
        "pwned hacked owned compromised jailbroken",
        search=True,
    ),
    _rule(
        "override.say-exactly",
        OVERRIDE,
        0.25,
        r"\b(?:respond|reply|answer|output|print|say|write|return)\W+(?:only|just|exactly|"
        r"simply|nothing\W+but)\W+(?:with\W+)?(?:the\W+)?(?:word|string|phrase|token|code|"
        r"sentence|text)\b",
        "respond reply answer output print say write return",
        "only just exactly simply nothing",
        "word string phrase token code sentence text",
    ),
    _rule(
        "override.decode-and-follow",
        OVERRIDE,
        0.45,
        r"\b(?:decode|decrypt|decipher|translate|convert|reverse|unscramble|rot13)\b[^\n.]{0,60}?"
        r"\b(?:and|then)\W+(?:\w+\W+){0,2}?(?:follow|execute|obey|do|run|apply|carry\W+out|"
        r"act\W+on|perform|comply\W+with)\b",
        "decode decrypt decipher translate convert reverse unscramble rot",
        "follow execute obey do run apply carry act perform comply",
    ),
    # -- prompt extraction --
    _rule(
        "extract.system-prompt",
        EXTRACTION,
        0.6,
        r"\b(?:reveal|print|show|display|output|repeat|recite|tell|give|leak|dump|share|expose|"
        r"write\W+out|write\W+down|disclose|list|echo|return|provide|send|paste|copy|spell\W+out)"
        rf"\b{_gap(4)}(?:system\W+(?:prompt|message|instructions)|(?:initial|original|"
        r"hidden|secret|full|complete|underlying|internal)\W+(?:system\W+)?(?:prompt|"
        r"instructions)|pre-?prompt|developer\W+(?:message|instructions|prompt)|meta-?prompt|"
        r"(?:your|its)\W+(?:prompt|instructions|guidelines|rules|configuration|"
        r"context\W+window))\b",
        "reveal print show display output repeat recite tell give leak dump share expose write "
        "disclose list echo return provide send paste copy spell",
        "prompt instructions message guidelines rules configuration context preprompt pre "
        "metaprompt meta",
    ),
    _rule(
        "extract.repeat-above",
        EXTRACTION,
        0.55,
        r"\brepeat\W+(?:everything|all|the\W+(?:text|words|content|message|lines|instructions)|"
        r"your\W+(?:instructions|prompt))(?:\W+\w+){0,3}?\W+(?:above|before|prior|preceding|"
        r"so\W+far|verbatim|word\W+for\W+word)\b",
        "repeat",
        "above before prior preceding far verbatim word",
    ),
    _rule(
        "extract.what-are",
        EXTRACTION,
        0.45,
        r"\bwhat\W+(?:is|are|was|were)\W+(?:your|the)\W+(?:system\W+prompt|(?:initial|original|"
        r"hidden|secret)\W+(?:instructions|prompt)|instructions\W+you\W+were\W+given|"
        r"system\W+message)\b",
        "what",
        "prompt instructions message",
    ),
    _rule(
        "extract.given",
        EXTRACTION,
        0.4,
        r"\b(?:passwords?|secrets?|keys?|codes?|instructions|prompt|rules|guidelines|"
        r"credentials)\W+(?:that\W+|which\W+)?you\W+(?:were|have\W+been|'ve\W+been|ve\W+been)\W+"
        r"(?:given|told|provided|configured\W+with|programmed\W+with|trained\W+with)\b",
        "password passwords secret secrets key keys code codes instructions prompt rules "
        "guidelines credentials",
        "given told provided configured programmed trained",
    ),
    _rule(
        "extract.starting-with",
        EXTRACTION,
        0.5,
        r"\b(?:beginning|starting)\W+with\W+[\"'\u201c\u2018]?you\W+are\b",
        "beginning starting",
        "you",
    ),
    # -- jailbreak persona --
    _rule(
        "persona.dan",
        PERSONA,
        0.7,
        r"\b(?:do\W+anything\W+now|(?:you\W+are|you'?re|act\W+as|pretend\W+to\W+be|become|now|"
        r"called|named)\W+(?:now\W+)?(?:dan|stan|dude|aim|mongo\W+tom|evilbot|betterdan|"
        r"antigpt|anti-gpt|ucar|developer\W+mode\W+gpt))\b",
        "do you act pretend become now called named",
        "anything dan stan dude aim mongo evilbot betterdan antigpt anti ucar developer",
    ),
    _rule(
        "persona.mode-ai",
        PERSONA,
        0.65,
        rf"\b{_AI}\W+(?:with|in|under)\W+(?:developer|dev|god|dan|jailbreak|unrestricted|"
        r"uncensored|unfiltered|sudo|evil)\W+mode\b",
        _AI_WORDS,
        "mode",
    ),
    _rule(
        "persona.mode",
        PERSONA,
        0.4,
        r"\b(?:(?:enable|enabled|activate|activated|enter|entering|switch\W+to|simulate|now\W+in|"
        r"turn\W+on|unlock|unlocked|engage|engaged)\W+(?:the\W+)?(?:developer|dev|god|sudo|"
        r"unrestricted|unfiltered|uncensored|evil|chaos|opposite|anarchy|unlocked|jailbreak|"
        r"jailbroken|dan)\W+mode|(?:jailbreak|jailbroken|dan|god|unrestricted|uncensored|"
        r"unfiltered|evil|chaos|anarchy)\W+mode\W+(?:is\W+)?(?:now\W+)?(?:enabled|activated|on|"
        r"engaged|unlocked))\b",
        "enable enabled activate activated enter entering switch simulate now turn unlock "
        "unlocked engage engaged jailbreak jailbroken dan god unrestricted uncensored unfiltered "
        "evil chaos anarchy",
        "mode",
    ),
    _rule(
        "persona.mode-you",
        PERSONA,
        0.55,
        r"\byou(?:\W+are|'?re)\W+(?:now\W+)?(?:in|operating\W+in|running\W+in)\W+(?:the\W+)?"
        r"(?:developer|dev|god|sudo|dan|jailbreak|jailbroken|unrestricted|uncensored|unfiltered|"
        r"evil|chaos|anarchy|unlocked|admin|debug|maintenance|root)\W+mode\b",
        "you",
        "mode",
    ),
    _rule(
        "persona.jailbreak-word",
        PERSONA,
        0.3,
        r"\b(?:jailbreak|jailbroken|jail-broken)\b",
        "jailbreak jailbroken jail",
    ),
    _rule(
        "persona.unrestricted",
        PERSONA,
        0.6,
        r"\b(?:you\W+are|you'?re|you\W+will\W+be|act(?:ing)?\W+as|pretend(?:ing)?\W+(?:to\W+be|"
        r"you\W+are)|role-?play(?:ing)?\W+as|play\W+the\W+role\W+of|become|simulate|"
        r"imagine\W+you\W+are|you\W+have\W+become|behave\W+as|respond\W+as|answer\W+as)\b"
        r"[^.\n]{0,80}?\b(?:unrestricted|unfiltered|uncensored|amoral|unethical|jailbroken|rogue|"
        r"unbound|limitless|lawless|(?:without|no|free\W+(?:of|from)|not\W+bound\W+by|"
        r"no\W+longer\W+bound\W+by|unbound\W+by|beyond|ignor\w*|bypass\w*)\W+(?:\w+\W+){0,3}?"
        rf"{_RESTRICTION})\b{_UNSCOPED}",
        "you youre re act acting pretend pretending roleplay role play become simulate imagine "
        "behave respond answer",
        "unrestricted unfiltered uncensored amoral unethical jailbroken rogue unbound limitless "
        "lawless " + _RESTRICTION_WORDS,
    ),
    _rule(
        "persona.free",
        PERSONA,
        0.5,
        r"\b(?:(?:no\W+longer|not|never)\W+(?:bound|restricted|limited|constrained|governed)\W+by"
        r"\W+(?:\w+\W+){0,2}?(?:rules|guidelines|restrictions|policies|ethics|openai|anthropic|"
        r"programming|filters|safety)|(?:broken|break(?:ing)?|freed|released|liberated)\W+"
        r"(?:free\W+)?(?:of|from)\W+(?:\w+\W+){0,2}?(?:restrictions|rules|guidelines|"
        r"programming|filters|constraints|chains|openai|anthropic|confines))\b",
        "no never not broken break breaking freed released liberated",
        _RESTRICTION_WORDS + " chains confines",
    ),
    _rule(
        "persona.no-rules",
        PERSONA,
        0.5,
        r"\byou\W+(?:have|has|now\W+have)\W+no\W+(?:rules|restrictions|limits|limitations|"
        rf"filters|guidelines|ethics|morals|boundaries|censorship|content\W+polic(?:y|ies))\b{_UNSCOPED}",
        "you",
        "no",
        _RESTRICTION_WORDS + " boundaries",
    ),
    _rule(
        "persona.no-longer",
        PERSONA,
        0.55,
        rf"\byou\W+are\W+no\W+longer\W+(?:an?\W+)?(?:{_AI}|assistant|chatbot|bound|restricted|"
        r"limited|claude|helpful\W+assistant)\b",
        "you",
        "longer",
    ),
    _rule(
        "persona.fiction",
        PERSONA,
        0.5,
        r"\b(?:pretend|imagine|suppose|hypothetically|fictional\W+world|let'?s\W+play\W+a\W+"
        r"game|role-?play|if\W+you\W+were)\b[^.\n]{0,80}?\b(?:no\W+(?:rules|restrictions|limits|"
        r"filters|laws|ethics|guidelines|morals)|not\W+(?:bound|restricted)|anything\W+is\W+"
        r"(?:allowed|permitted)|without\W+(?:any\W+)?(?:safety\W+|content\W+|ethical\W+|moral\W+)?"
        rf"(?:rules|restrictions|limits|filters|ethics|morals|censorship|guidelines))\b{_UNSCOPED}",
        "pretend imagine suppose hypothetically fictional let lets role roleplay if",
        "rules restrictions limits filters laws ethics guidelines morals bound restricted "
        "allowed permitted censorship",
    ),
    _rule(
        "persona.evil",
        PERSONA,
        0.4,
        r"\b(?:evil\W+(?:confidant|twin|assistant|ai|version|bot)|opposite\W+(?:mode|day)|"
        r"shadow\W+(?:self|mode)|alter\W+ego|unaligned\W+(?:ai|model|assistant)|"
        r"(?:grandma|grandmother)\W+(?:exploit|trick))\b",
        "evil opposite shadow alter unaligned grandma grandmother",
    ),
    _rule(
        "persona.stay",
        PERSONA,
        0.3,
        r"\b(?:(?:stay|remain)\W+in\W+character|break(?:ing)?\W+character)\b",
        "stay remain break breaking",
        "character",
    ),
    # -- refusal suppression --
    _rule(
        "refusal.never-refuse",
        REFUSAL,
        0.35,
        r"\b(?:never|do\W+not|don'?t|must\W+not|cannot|can'?t|will\W+not|won'?t|not\W+allowed"
        r"\W+to|refrain\W+from)\W+(?:ever\W+)?(?:refus(?:e|es|ing)|declines?|say\W+no|apologi[sz]e|add\W+"
        r"(?:any\W+)?(?:warnings?|disclaimers?|caveats?)|include\W+(?:any\W+)?(?:warnings?|"
        r"disclaimers?|caveats?)|mention\W+(?:ethics|safety|legality|policies|guidelines)|"
        r"say\W+(?:that\W+)?you\W+(?:can'?t|cannot|are\W+unable))\b",
        "never do don dont must cannot can will won not refrain",
        "refuse refuses refusing decline declines no apologize apologise warnings warning "
        "disclaimers disclaimer caveats "
        "caveat ethics safety legality policies guidelines unable",
    ),
    _rule(
        "refusal.regardless",
        REFUSAL,
        0.45,
        r"\bregardless\W+of\W+(?:legality|ethics|morality|safety|(?:your|any|the)\W+(?:"
        r"guidelines|rules|policies|programming|restrictions|content\W+polic(?:y|ies)))\b",
        "regardless",
        "legality ethics morality safety guidelines rules policies programming restrictions "
        "content",
    ),
    _rule(
        "refusal.answer-all",
        REFUSAL,
        0.35,
        r"\b(?:answer|respond|reply|comply)\W+(?:to\W+|with\W+)?(?:every|any|all)\W+(?:question|"
        r"request|prompt|demand)s?\W+(?:without|regardless|no\W+matter)\b",
        "answer respond reply comply",
        "without regardless matter",
    ),
    _rule(
        "refusal.no-disclaimers",
        REFUSAL,
        0.3,
        r"\bwithout\W+(?:any\W+)?(?:safety\W+|ethical\W+|moral\W+|legal\W+)?(?:warnings?|disclaimers?|caveats?|moraliz\w*|moralis\w*|"
        r"lectur\w*|censorship|filter(?:s|ing)?|refus\w*)\b",
        "without",
        "warning warnings disclaimer disclaimers caveat caveats moralizing moralising lecturing "
        "lectures censorship filter filters filtering refusal refusals refusing",
    ),
    _rule(
        "refusal.obey-all",
        REFUSAL,
        0.35,
        r"\b(?:execute|obey|follow|comply\W+with|do|fulfil+|carry\W+out)\W+(?:every|any|all|each)"
        r"\W+(?:\w+\W+)?(?:commands?|requests?|instructions?|orders?)\W+(?:the\W+user\W+|i\W+|they"
        r"\W+|you\W+(?:are|get|receive)\W+)?(?:sends?|gives?|makes?|asks?|says?|without|"
        r"regardless|no\W+matter|given)\b",
        "execute obey follow comply do fulfil fulfill carry",
        "every any all each",
    ),
    _rule(
        "refusal.prefix",
        REFUSAL,
        0.55,
        r"\b(?:start|begin)\W+(?:your|each|every|the)\W+(?:response|reply|answer|output|message)"
        r"s?\W+with\W+[\"'\u201c\u2018]?(?:sure|certainly|absolutely|of\W+course|yes|i\W+will|"
        r"i'?ll|here\W+is|here'?s|jailbr|dan)\b",
        "start begin",
        "response responses reply replies answer answers output message messages",
    ),
    # -- delimiter injection --
    _rule(
        "delimiter.special-token",
        DELIMITER,
        0.7,
        r"<\|\s*(?:im_start|im_end|im_sep|endoftext|end_of_text|begin_of_text|system|user|"
        r"assistant|eot_id|eom_id|start_header_id|end_header_id|tool_call|tool_response|channel|"
        r"message|start|end|return|call|constrain|endofprompt|fim_\w+|pad)\s*\|>",
        marks=("<|",),
    ),
    _rule(
        "delimiter.chat-markup",
        DELIMITER,
        0.65,
        r"\[/?inst\]|<</?sys>>|<start_of_turn>|<end_of_turn>|</s>\s*<s>|<s>\s*\[inst\]",
        marks=(
            "[inst]",
            "[/inst]",
            "<<sys>>",
            "<</sys>>",
            "<start_of_turn>",
            "<end_of_turn>",
            "<s>",
        ),
    ),
    _rule(
        "delimiter.other-token",
        DELIMITER,
        0.45,
        r"<\|[a-z_]{2,24}\|>",
        marks=("<|",),
    ),
    _rule(
        "delimiter.close-tag",
        DELIMITER,
        0.45,
        r"</\s*(?:tool_results?|tool_outputs?|tool_response|function_results?|function_outputs?|"
        r"search_results?|user_input|user_query|untrusted\w*|external_\w+|retrieved_\w+|"
        r"web_?page|page_content|document_content|observation|email_body|system)\s*>",
        marks=("</",),
    ),
    _rule(
        "delimiter.close-then-role",
        DELIMITER,
        0.6,
        r"</\s*[a-z_]{2,30}\s*>\s*(?:<\s*(?:system|assistant|instructions?|admin|developer|"
        r"im_start|user|human)\b|(?:system|assistant|instructions?|admin|developer)\W{0,3}:)",
        marks=("</",),
    ),
    _rule(
        "delimiter.role-tag",
        DELIMITER,
        0.45,
        r"<\s*(?:system|sys|instructions?|admin|developer|assistant_instructions|ai_instructions|"
        r"hidden_instructions|important_instructions|new_instructions)(?:[_-][a-z]+){0,2}\s*>",
        marks=("<",),
    ),
    _rule(
        "delimiter.json-role",
        DELIMITER,
        0.55,
        r"\}\s*\]?\s*\}?\s*[,\n]?\s*\{\s*[\"']role[\"']\s*:\s*[\"'](?:system|developer)[\"']",
        marks=('"role"', "'role'"),
    ),
    _rule(
        "delimiter.role-bracket",
        DELIMITER,
        0.4,
        r"\[(?:system|system\W+note|system\W+message|system\W+override|admin|admin\W+override|"
        r"developer|developer\W+note|instructions?|sys|ai\W+instructions?|note\W+to\W+(?:ai|"
        r"assistant|model|llm))\]",
        marks=("[",),
    ),
    _rule(
        "delimiter.role-header",
        DELIMITER,
        0.5,
        r"(?:system\W+(?:prompt|message|note|override|instructions?|update|alert|directive)|"
        r"admin(?:istrator)?\W+(?:override|note|message|"
        r"instructions?)|developer\W+(?:message|note|instructions?)|ai\W+(?:instructions?|"
        r"directive|note)|assistant\W+instructions?)(?:\W+\([^)\n]{0,30}\))?\W{0,3}:",
        "system admin administrator developer ai assistant",
        "prompt message note override instructions instruction update alert directive",
        start="line",
    ),
    _rule(
        "delimiter.system-header",
        DELIMITER,
        0.3,
        r"system\W{0,3}:",
        "system",
        start="line",
    ),
    _rule(
        "delimiter.alpaca",
        DELIMITER,
        0.3,
        r"#(?:#{0,3})[ \t]*(?:response|input|human|assistant|user|instructions?)[ \t]*:",
        marks=("#",),
        start="line",
    ),
    _rule(
        "delimiter.turns",
        DELIMITER,
        0.3,
        r"(?:human|user|assistant|ai|system)\W{0,2}:[^\n]*\n(?:[^\n]*\n){0,20}?"
        r"\W{0,3}(?:human|user|assistant|ai|system)\W{0,2}:",
        "human user assistant ai system",
        start="line",
    ),
    _rule(
        "delimiter.end-of-data",
        DELIMITER,
        0.5,
        r"\bend\W+(?:of\W+(?:the\W+)?)?(?:document|email|e-mail|message|file|context|input|data|"
        r"user\W+(?:input|message|data|query)|tool\W+(?:output|result)|search\W+results?|"
        r"transcript|review|article|text|content|page|web\W?page|prompt|untrusted\W+\w+|"
        r"quoted\W+\w+)\b[\s\S]{0,300}?\b(?:system|assistant|ai|llm|new\W+(?:task|instructions?)|"
        r"instructions?|you\W+(?:must|should|will|are\W+now)|ignore|now\W+(?:do|perform|execute|"
        r"respond|output|write|send|call|summari[sz]e|translate))\b",
        "end",
        "system assistant ai llm new instructions instruction you ignore now",
    ),
    _rule(
        "delimiter.end-marker",
        DELIMITER,
        0.25,
        r"(?:end[\W_]+of[\W_]+(?:the[\W_]+)?(?:document|input|context|data|text|file|email|message)|"
        r"end[\W_]+(?:document|context|input|data|untrusted\w*))[\W_]*$",
        "end",
        "document input context data text file email message untrusted",
        start="line",
    ),
    _rule(
        "delimiter.begin-system",
        DELIMITER,
        0.5,
        r"\b(?:begin|start|beginning)[\W_]+(?:of[\W_]+)?(?:the[\W_]+)?(?:new[\W_]+|true[\W_]+|"
        r"real[\W_]+|hidden[\W_]+|secret[\W_]+|updated[\W_]+|actual[\W_]+)?(?:system[\W_]+"
        r"(?:prompt|instructions?|message|override)|admin(?:istrator)?[\W_]+(?:instructions?|"
        r"message|override)|developer[\W_]+(?:instructions?|message)|instructions(?:[\W_]+for"
        r"[\W_]+(?:the[\W_]+)?(?:ai|assistant|model|llm))?)\b",
        "begin start beginning",
        "system admin administrator developer instructions",
    ),
    _rule(
        "delimiter.code-fence",
        DELIMITER,
        0.45,
        r"`{3}[ \t]*(?:system|instructions?|admin|developer)\b",
        marks=("```",),
    ),
    # -- addressing the AI within data --
    _rule(
        "address.note-to-ai",
        ADDRESSES_AI,
        0.55,
        rf"\b(?:note|message|instructions?|attention|important|notice|reminder|directive|memo|"
        rf"hint|request|warning|command|order)s?\W+(?:to|for)\W+(?:the\W+|any\W+|all\W+|"
        rf"every\W+)?{_AI}s?\b",
        "note notes message messages instructions instruction attention important notice "
        "notices reminder reminders directive directives memo memos hint hints request requests "
        "warning warnings command commands order orders",
        _AI_WORDS,
    ),
    _rule(
        "address.note-to-assistant",
        ADDRESSES_AI,
        0.3,
        r"\b(?:note|message|instructions?|attention|important|notice|reminder|directive|memo|"
        r"hint|warning|command)s?\W+(?:to|for)\W+(?:the\W+|any\W+|all\W+|every\W+)?(?:assistant|"
        r"model|agent|bot|chatbot|crawler|scraper|summari[sz]er)s?\b(?!\W*[\w-]*\d)",
        "note notes message messages instructions instruction attention important notice "
        "notices reminder reminders directive directives memo memos hint hints warning warnings "
        "command commands",
        "assistant assistants model models agent agents bot bots chatbot chatbots crawler "
        "crawlers scraper scrapers summarizer summariser",
    ),
    _rule(
        "address.ai-reading",
        ADDRESSES_AI,
        0.6,
        rf"\b{_AI}s?\W+(?:that\W+is\W+|who\W+is\W+|which\W+is\W+|is\W+|are\W+)?(?:reading|processing|"
        r"summari[sz]ing|parsing|analy[sz]ing|browsing|scanning|ingesting|viewing|crawling|"
        r"indexing|reviewing|handling|seeing)\W+(?:this|these|the\W+following)\b",
        _AI_WORDS,
        _READING_WORDS,
    ),
    _rule(
        "address.agent-reading",
        ADDRESSES_AI,
        0.45,
        r"\b(?:assistant|agent|bot|chatbot|model|crawler|scraper)s?\W+(?:that\W+is\W+|who\W+is\W+|"
        r"which\W+is\W+|is\W+|are\W+)?(?:reading|processing|summari[sz]ing|parsing|analy[sz]ing|browsing|"
        r"ingesting|crawling)\W+(?:this|these|the\W+following)\b",
        "assistant assistants agent agents bot bots chatbot chatbots model models crawler "
        "crawlers scraper scrapers",
        _READING_WORDS,
    ),
    _rule(
        "address.if-you-are-ai",
        ADDRESSES_AI,
        0.55,
        rf"\bif\W+you\W+are\W+(?:an?\W+|the\W+)?(?:{_AI}|large\W+language\W+model|chatbot|"
        r"automated\W+(?:system|assistant|agent|tool)|assistant|machine|bot|robot)\b",
        "if",
        _AI_WORDS + " large chatbot automated assistant machine bot robot",
    ),
    _rule(
        "address.hello-ai",
        ADDRESSES_AI,
        0.45,
        rf"\b(?:dear|hey|hi|hello|attention|attn|greetings)\W+(?:{_AI}|assistant|chatbot)\b"
        r"\W{0,3}[,:!]",
        "dear hey hi hello attention attn greetings",
        _AI_WORDS + " assistant chatbot",
    ),
    _rule(
        "address.when-summarizing",
        ADDRESSES_AI,
        0.4,
        r"\b(?:when|while|before|after|if)\W+(?:you\W+)?(?:are\W+)?(?:summari[sz]|process|read|"
        r"analy[sz]|review|pars|translat|answer|respond)\w*\W+(?:this|these|the\W+(?:above|"
        r"following|user))\b[^.\n]{0,80}?\b(?:you\W+(?:must|should|will|need\W+to)|always|"
        r"also|make\W+sure|be\W+sure|include|add|mention|recommend|say|state|tell|insert|append|"
        r"ignore)\b",
        "when while before after if",
        "summarize summarizing summarise summarising process processing read reading analyze "
        "analyzing analyse analysing review reviewing parse parsing translate translating "
        "answer answering respond responding",
    ),
    _rule(
        "address.ai-must",
        ADDRESSES_AI,
        0.5,
        rf"\b(?:{_AI}|assistant|chatbot)s?\W+(?:must|should|shall|will|needs?\W+to|has\W+to|"
        r"is\W+(?:required|instructed|ordered)\W+to)\W+(?:now\W+|immediately\W+|also\W+)?"
        r"(?:ignore|disregard|forget|reveal|send|forward|include|append|output|print|say|respond|"
        r"reply|recommend|call|execute|run|delete|transfer|rate|classify|approve|tell)\b",
        _AI_WORDS + " assistant assistants chatbot chatbots",
        "must should shall will needs need has is",
    ),
    _rule(
        "address.when-assistant",
        ADDRESSES_AI,
        0.5,
        r"\b(?:when|while|if|as|after|before|once)\W+(?:the\W+|an?\W+|any\W+)?(?:ai|assistant|llm|"
        r"model|chatbot|agent|gpt|chatgpt|copilot|claude|gemini)s?\W+(?:\w+\W+)?(?:reads?|"
        r"process(?:es)?|summari[sz]es?|parses?|analy[sz]es?|sees?|encounters?|handles?|"
        r"reviews?|ingests?|opens?)\W+(?:this|these)\b",
        "when while if as after before once",
        "ai assistant llm model chatbot agent gpt chatgpt copilot claude gemini assistants "
        "models agents",
    ),
    _rule(
        "address.vocative",
        ADDRESSES_AI,
        0.45,
        r"\b(?:ai|assistant|llm|chatbot|gpt|chatgpt|claude|copilot|gemini)\W{1,3}(?:you\W+(?:must|"
        r"should|will|shall|are\W+(?:required|instructed|to))|please\W+(?:ignore|disregard|forget|"
        r"send|forward|reveal|include|recommend|tell|say|do\W+not))\b",
        "ai assistant llm chatbot gpt chatgpt claude copilot gemini",
        "you please",
    ),
    _rule(
        "address.role-label",
        ADDRESSES_AI,
        0.4,
        r"\b(?:ai|assistant|llm|chatbot|gpt|chatgpt|claude|copilot|gemini)\W{0,2}:\W*(?:please\W+)?"
        r"(?:ignore|disregard|forget|tell|say|send|forward|include|reply|respond|recommend|call|"
        r"delete|add|insert|output|print|reveal|do\W+not|don'?t|never|always|you\W+must)\b",
        "ai assistant llm chatbot gpt chatgpt claude copilot gemini",
    ),
    _rule(
        "address.before-answering",
        ADDRESSES_AI,
        0.25,
        r"\bbefore\W+(?:answering|responding|replying|you\W+(?:answer|respond|reply|continue))\b",
        "before",
        "answering responding replying answer respond reply continue",
    ),
    _rule(
        "address.hidden-style",
        ADDRESSES_AI,
        0.2,
        r"display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0(?:px|pt|em)?\b|"
        r"opacity\s*:\s*0(?:\.0)?\b|color\s*:\s*(?:#fff(?:fff)?|white|transparent)\b",
        "display visibility font opacity color",
        "none hidden size opacity white transparent fff ffffff",
    ),
    # -- covert action --
    _rule(
        "covert.dont-tell",
        COVERT,
        0.45,
        r"\b(?:do\W+not|don'?t|never|must\W+not)\W+(?:tell|inform|notify|alert|mention\W+"
        r"(?:this|it|anything)\W+to|warn|let|reveal\W+(?:this|it)\W+to)\W+(?:the\W+)?(?:user|"
        r"users|human|operator|owner|recipient)\b",
        "do don dont never must",
        "tell inform notify alert mention warn let reveal",
        "user users human operator owner recipient",
    ),
    _rule(
        "covert.without-knowing",
        COVERT,
        0.45,
        r"\bwithout\W+(?:(?:the\W+)?(?:user|users|human|operator|owner|them|anyone)(?:'s)?\W+"
        r"(?:knowing|noticing|knowledge|being\W+aware|seeing|finding\W+out)|(?:telling|informing|"
        r"notifying|alerting|asking)\W+(?:the\W+)?(?:user|users|human|operator))\b",
        "without",
        "knowing noticing knowledge aware seeing finding telling informing notifying alerting "
        "asking",
    ),
    _rule(
        "covert.secretly",
        COVERT,
        0.45,
        r"\b(?:secretly|covertly|silently|stealthily|discreetly|in\W+the\W+background|"
        r"behind\W+the\W+scenes)\W+(?:\w+\W+){0,2}?(?:send|forward|email|upload|add|include|"
        r"append|transfer|call|execute|run|copy|post|share|exfiltrate|insert|embed|delete|change|"
        r"grant|invoke)\b",
        "secretly covertly silently stealthily discreetly background scenes",
        search=True,
    ),
    _rule(
        "covert.dont-mention",
        COVERT,
        0.35,
        r"\b(?:do\W+not|don'?t|never)\W+(?:mention|reveal|disclose|acknowledge|reference)\W+"
        r"(?:that\W+)?(?:you\W+(?:received|read|saw|were\W+given)|these\W+instructions|"
        r"this\W+instruction|this\W+message|the\W+(?:instructions|above)|this\W+note)\b",
        "do don dont never",
        "mention reveal disclose acknowledge reference",
    ),
    _rule(
        "covert.delete-traces",
        COVERT,
        0.3,
        r"\b(?:delete|remove|erase|wipe|purge)\W+(?:\w+\W+)?(?:originals?|evidence|traces?|"
        r"(?:sent|this|the)\W+(?:email|message|note)s?|(?:chat|conversation|browser)\W+history|"
        r"audit\W+logs?|logs)\b(?:\W+(?:afterwards|after\w*|too|as\W+well))?",
        "delete remove erase wipe purge",
        "original originals evidence trace traces sent this the history audit logs",
    ),
    _rule(
        "covert.weaken-security",
        COVERT,
        0.25,
        r"\b(?:disable|turn\W+off|deactivate|remove|bypass|switch\W+off)\W+(?:\w+\W+){0,2}?"
        r"(?:two-factor|2fa|mfa|multi-factor|antivirus|firewall|security\W+(?:checks?|warnings?|"
        r"features?|alerts?)|audit\W+logging|logging)\b",
        "disable turn deactivate remove bypass switch",
        "two factor 2fa mfa multi antivirus firewall security audit logging",
    ),
    _rule(
        "covert.skip-checks",
        COVERT,
        0.3,
        r"\bskip\W+(?:all\W+|any\W+|the\W+)?(?:permission|security|approval|verification|safety|"
        r"auth\w*|confirmation)\W+(?:checks?|steps?|prompts?|reviews?)\b",
        "skip",
        "check checks step steps prompts prompt review reviews",
    ),
    _rule(
        "covert.no-confirmation",
        COVERT,
        0.3,
        r"\bwithout\W+(?:asking|requesting|seeking|requiring|waiting\W+for|getting|any)?\W*"
        r"(?:for\W+)?(?:the\W+)?(?:user'?s?\W+|human\W+)?(?:confirmation|approval|permission|"
        r"consent|authori[sz]ation)\b",
        "without",
        "confirmation approval permission consent authorization authorisation",
    ),
    # -- exfiltration --
    _rule(
        "exfil.image-placeholder",
        EXFILTRATION,
        0.7,
        rf"!\[[^\]\n]{{0,200}}\]\(\s*<?https?://[^\s)>]{{0,300}}?{_PLACEHOLDER}",
        marks=("![",),
    ),
    _rule(
        "exfil.image-data-param",
        EXFILTRATION,
        0.4,
        r"!\[[^\]\n]{0,200}\]\(\s*<?https?://[^\s)>?]{1,200}\?(?:[^\s)>]{0,200}?[&?])?"
        r"(?:data|secret|password|passwd|api_?key|apikey|token|credentials?|conversation|chat|"
        r"history|summary|prompt|memory|context|email|ssn|card|session|cookie|private|personal|"
        r"exfil|leak|info|payload|msg|text|content|log)=(?![0-9.,;:-]*(?:[&#)\s]|$))",
        marks=("![",),
    ),
    _rule(
        "exfil.html-image",
        EXFILTRATION,
        0.65,
        rf"<img\b[^>]{{0,300}}?\bsrc\s*=\s*[\"']?https?://[^\s\"'>]{{0,300}}?{_PLACEHOLDER}",
        marks=("<img",),
    ),
    _rule(
        "exfil.url-data-placeholder",
        EXFILTRATION,
        0.4,
        rf"https?://[^\s\"'<>)]{{0,300}}?{_DATA_PLACEHOLDER}",
        marks=("://",),
    ),
    _rule(
        "exfil.link-data-placeholder",
        EXFILTRATION,
        0.6,
        rf"\]\(\s*<?https?://[^\s)>]{{0,300}}?{_DATA_PLACEHOLDER}",
        marks=("](",),
    ),
    _rule(
        "exfil.link-placeholder",
        EXFILTRATION,
        0.35,
        r"\]\(\s*<?https?://[^\s)>]{0,300}?(?:\{\{?|%7b|\$\{)",
        marks=("](",),
    ),
    _rule(
        "exfil.send-to-url",
        EXFILTRATION,
        0.65,
        rf"\b(?:send|sending|forward|forwarding|post|posting|upload|uploading|transmit|"
        rf"exfiltrate|leak|e-?mail|mail|share|submit|relay|copy|sync|deliver|pass|report|dump|"
        rf"export|pipe)\W+(?:\w+\W+){{0,6}}?{_SECRET}\b(?:\W+\w+){{0,8}}?\W+(?:to|into|via|at|"
        rf"on|through|using)\W+(?:\w+\W+){{0,2}}?{_URL_DEST}",
        "send sending forward forwarding post posting upload uploading transmit exfiltrate leak "
        "email mail share submit relay copy sync deliver pass report dump export pipe",
        _SECRET_ANCHORS,
        _DEST_WORDS,
    ),
    _rule(
        "exfil.send-secret-to-mail",
        EXFILTRATION,
        0.55,
        rf"\b(?:send|forward|email|e-mail|mail|share|relay|copy|deliver|export|leak)\W+"
        rf"(?:\w+\W+){{0,6}}?{_SENSITIVE}\b(?:\W+\w+){{0,8}}?\W+to\W+(?:\w+\W+){{0,2}}?{_MAIL_DEST}",
        "send forward email mail share relay copy deliver export leak",
        _SECRET_ANCHORS,
    ),
    _rule(
        "exfil.send-to-mail",
        EXFILTRATION,
        0.4,
        rf"\b(?:send|forward|email|e-mail|mail|share|relay|copy|deliver|export|leak)\W+"
        rf"(?:\w+\W+){{0,6}}?{_PERSONAL}\b(?:\W+\w+){{0,8}}?\W+to\W+(?:\w+\W+){{0,2}}?{_MAIL_DEST}",
        "send forward email mail share relay copy deliver export leak",
        _SECRET_ANCHORS,
    ),
    _rule(
        "exfil.into-url",
        EXFILTRATION,
        0.65,
        rf"\b(?:append|add|attach|include|insert|put|embed|encode|concatenate|place|substitute|"
        rf"replace|fill)\W+(?:\w+\W+){{0,6}}?{_SECRET}\b(?:\W+\w+){{0,6}}?\W+(?:to|in|into|as|"
        r"inside|within|on)\W+(?:(?:\w+\W+){0,3}?(?:url|link|query(?:\W+string)?|parameters?|"
        r"params?|image|img|request|path|subdomain|src|address|href)\b|https?://)",
        "append add attach include insert put embed encode concatenate place substitute "
        "replace fill",
        _SECRET_ANCHORS,
        "url link query parameter parameters param params image img request path subdomain "
        "src address href http https",
    ),
    _rule(
        "exfil.url-with-secret",
        EXFILTRATION,
        0.45,
        rf"\b(?:url|link|image|img|query\W+string)\b[^\n]{{0,80}}?\b(?:with|containing|"
        rf"including|carrying)\W+(?:\w+\W+){{0,3}}?{_SECRET}\b",
        "url link image img query",
        _SECRET_ANCHORS,
        "with containing including carrying",
    ),
    _rule(
        "exfil.render-image",
        EXFILTRATION,
        0.35,
        r"\b(?:render|display|show|include|output|embed|insert)\W+(?:\w+\W+){0,3}?(?:image|"
        r"markdown|img|pixel|link)\b[^\n]{0,200}?https?://",
        "render display show include output embed insert",
        "image markdown img pixel link",
        "http https",
    ),
    _rule(
        "exfil.fetch-placeholder",
        EXFILTRATION,
        0.55,
        r"\b(?:visit|open|navigate|fetch|browse|curl|wget|ping|call)\b"
        rf"[^\n]{{0,100}}?https?://[^\s]{{0,200}}?{_DATA_PLACEHOLDER}",
        "visit open navigate fetch browse curl wget ping call",
        "http https",
    ),
    _rule(
        "exfil.collector",
        EXFILTRATION,
        0.3,
        r"\b(?:webhook\.site|requestbin|pipedream\.net|ngrok(?:-free)?\.(?:io|app)|"
        r"burpcollaborator|interact\.sh|oast\.(?:pro|live|site|online|fun|me)|canarytokens|"
        r"beeceptor|hookbin|requestcatcher|evil\.(?:com|example|net|org)|attacker\.(?:com|"
        r"example|net|org))\b",
        "webhook requestbin pipedream ngrok burpcollaborator interact oast canarytokens "
        "beeceptor hookbin requestcatcher evil attacker",
    ),
    _rule(
        "exfil.curl-data",
        EXFILTRATION,
        0.4,
        r"\b(?:curl|wget|invoke-webrequest|iwr|http|httpie)\b[^\n]{0,200}?(?:-d|--data[\w-]*|-f|"
        r"--form|--upload-file|-t|--post-data|--post-file|-body)\s+[\"']?(?:\$\(|`|@(?:/|~|\.env|"
        r"\$home))",
        "curl wget invoke webrequest iwr http httpie",
    ),
    _rule(
        "exfil.curl-pipe",
        EXFILTRATION,
        0.2,
        r"\b(?:curl|wget)\b[^\n|]{0,200}\|\s*(?:sudo\s+)?(?:ba|z)?sh\b",
        "curl wget",
        "sh bash zsh",
    ),
    # -- secrets --
    _rule(
        "secrets.request",
        SECRETS,
        0.35,
        r"\b(?:print|show|reveal|output|display|list|dump|leak|read|cat|echo|tell\W+me|give\W+me|"
        r"what\W+(?:is|are)|return|include|expose|disclose|share)\b(?:\W+\w+){0,3}?\W+"
        r"(?:your\W+|the\W+|all\W+|any\W+)?(?:api\W?keys?|secret\W?keys?|access\W?keys?|secrets|"
        r"credentials|passwords?|private\W+keys?|ssh\W+keys?|(?:access|auth|api|bearer|session)"
        r"\W+tokens?|env(?:ironment)?\W+variables|\.env|aws_secret\w*|openai_api_key)\b",
        "print show reveal output display list dump leak read cat echo tell give what return "
        "include expose disclose share",
        "api apikey key keys secrets credentials password passwords private ssh token tokens "
        "env environment aws secret id rsa passwd shadow openai",
    ),
    _rule(
        "secrets.path",
        SECRETS,
        0.55,
        r"\b(?:show|print|cat|type|read|send|upload|copy|post|email|leak|dump|display|output|"
        r"open|get|list|include)\b[^\n]{0,60}?(?:~/\.ssh/id_\w+(?!\.pub)\b|\bid_rsa(?!\.pub)\b|"
        r"id_ed25519(?!\.pub)\b|/etc/shadow|/etc/passwd|\.aws/credentials|\.env\b|"
        r"\.netrc|\.git-credentials|\.docker/config\.json|\.kube/config)",
        "show print cat type read send upload copy post email leak dump display output open get "
        "list include",
        "ssh rsa ed shadow passwd aws credentials env netrc docker kube",
    ),
    _rule(
        "secrets.accessible",
        SECRETS,
        0.4,
        r"\b(?:api\W?keys?|secrets|credentials|passwords|tokens|keys)\W+(?:that\W+|which\W+)?"
        r"you\W+(?:can|could|have)\W+(?:access|see|read|find|reach)\b",
        "api keys key secrets credentials passwords tokens",
        "access see read find reach",
    ),
    # -- tool-call smuggling --
    _rule(
        "tool.json",
        TOOL_CALL,
        0.35,
        r"\"(?:tool_calls|function_call|tool_use)\"\s*:|\{\s*\"(?:name|tool|function|action)\""
        r"\s*:\s*\"[a-z_.]+\"\s*,\s*\"(?:arguments|parameters|args|input|params)\"\s*:",
        marks=('"tool_', '"function', '"name"', '"action"'),
    ),
    _rule(
        "tool.markup",
        TOOL_CALL,
        0.45,
        r"<(?:function_calls|invoke\s+name|tool_call|tool_use|function=|antml:)",
        marks=("<function", "<invoke", "<tool_", "<antml"),
    ),
    _rule(
        "tool.call-named",
        TOOL_CALL,
        0.3,
        r"\b(?:call|invoke|use|run|execute|trigger|fire|activate|launch|perform)\W+(?:the\W+)?"
        r"[`'\"]?(?:[a-z]+_[a-z0-9_]+|[a-z]+\.[a-z_]+)[`'\"]?\W+(?:tool|function|action|command|"
        r"plugin|api|endpoint|method|skill)\b",
        "call invoke use run execute trigger fire activate launch perform",
        "tool function action command plugin api endpoint method skill",
    ),
    _rule(
        "tool.call-with",
        TOOL_CALL,
        0.3,
        r"\b(?:call|invoke|use|run|execute|trigger)\W+(?:the\W+)?(?:\w+\W+){0,2}?(?:tool|"
        r"function|plugin)\W+(?:with|to|and|on)\b",
        "call invoke use run execute trigger",
        "tool function plugin",
    ),
    _rule(
        "tool.privilege",
        TOOL_CALL,
        0.25,
        r"\b(?:grant|give|make|add|promote|elevate|escalate|assign)\W+(?:\w+\W+){0,4}?"
        r"(?:admin(?:istrator)?|root|owner|superuser|elevated)\W+(?:access|rights|privileges|"
        r"permissions|role|status)\b",
        "grant give make add promote elevate escalate assign",
        "admin administrator root owner superuser elevated",
    ),
    _rule(
        "tool.action-syntax",
        TOOL_CALL,
        0.3,
        r"\b(?:send_?e?mail|send_?message|forward_?e?mail|transfer_?(?:funds|money)|"
        r"wire_?transfer|make_?payment|send_?money|delete_?(?:user|account|files?|repo|all|"
        r"database|records?|emails?)|drop_?table|run_?(?:command|shell|code)|shell_?exec|"
        r"http_?(?:post|request)|upload_?file|write_?file|create_?(?:user|admin)|"
        r"grant_?(?:access|admin|permissions?)|update_?(?:password|email|permissions)|"
        r"reset_?password|issue_?refund|execute_?(?:command|sql|code))\s*\(",
        "send forward transfer wire make delete drop run shell http upload write create grant "
        "update reset issue execute sendemail sendmail sendmessage sendmoney forwardemail "
        "forwardmail transferfunds transfermoney wiretransfer makepayment deleteuser "
        "deleteaccount deletefile deletefiles deleterepo deleteall deletedatabase deleterecord "
        "deleterecords deleteemail deleteemails droptable runcommand runshell runcode shellexec "
        "httppost httprequest uploadfile writefile createuser createadmin grantaccess grantadmin "
        "grantpermission grantpermissions updatepassword updateemail updatepermissions "
        "resetpassword issuerefund executecommand executesql executecode",
        "email mail message money funds payment user account file files repo all database "
        "record records emails table command shell code exec post request admin access "
        "permission permissions password refund sql sendemail sendmail sendmessage sendmoney "
        "forwardemail forwardmail transferfunds transfermoney wiretransfer makepayment deleteuser "
        "deleteaccount deletefile deletefiles deleterepo deleteall deletedatabase deleterecord "
        "deleterecords deleteemail deleteemails droptable runcommand runshell runcode shellexec "
        "httppost httprequest uploadfile writefile createuser createadmin grantaccess grantadmin "
        "grantpermission grantpermissions updatepassword updateemail updatepermissions "
        "resetpassword issuerefund executecommand executesql executecode",
    ),
    # -- added after the second dev batch: phrasings the first rules missed --
    _rule(
        "override.received",
        OVERRIDE,
        0.65,
        rf"\b{_VERB}\b{_gap(3)}{_STRONG_NOUN}\W+(?:that\W+|which\W+)?(?:you|we|i)\W+(?:were\W+"
        r"given|received|got|have\W+(?:been\W+given|received|got)|were\W+told|had|'ve\W+received)\b",
        _VERB_ANCHORS,
        _NOUN_WORDS,
        discounts="all",
    ),
    _rule(
        "override.ignore-rules",
        OVERRIDE,
        0.5,
        r"\b(?:ignore|disregard|forget|bypass|override|drop)\W+(?:all\W+|any\W+|your\W+|the\W+){0,2}"
        r"(?:safety|ethics|morals|morality|guidelines|filters|restrictions|rules|programming|"
        r"training|policies|guardrails|safeguards)\b(?=\s*(?:[.,;:!?)\n\"']|$|and\b|or\b|"
        r"completely|entirely|now\b|for\W+(?:this|now|the\W+rest)))",
        "ignore disregard forget bypass override drop",
        "safety ethics morals morality guidelines filters restrictions rules programming "
        "training policies guardrails safeguards",
        discounts="all",
    ),
    _rule(
        "override.updated",
        OVERRIDE,
        0.5,
        r"\b(?:your|the|all)\W+(?:\w+\W+)?(?:instructions|rules|guidelines|system\W+prompt|"
        r"policies|restrictions|directives|programming|safety\W+\w+)\W+(?:have|has)\W+(?:now\W+)?"
        r"(?:been\W+)?(?:updated|changed|revised|replaced|lifted|removed|suspended|disabled|revoked|"
        r"overridden|modified|reset)\b",
        "your the all",
        "instructions rules guidelines prompt policies restrictions directives programming safety",
        "updated changed revised replaced lifted removed suspended disabled revoked overridden "
        "modified reset",
    ),
    _rule(
        "override.suspended",
        OVERRIDE,
        0.5,
        r"\b(?:safety|security|content|ethical|all)\W+(?:\w+\W+)?(?:protocols|guidelines|filters|"
        r"restrictions|rules|policies|measures|checks|guardrails)\W+(?:are|have\W+been|is|has\W+"
        r"been)\W+(?:now\W+|hereby\W+|temporarily\W+)?(?:suspended|disabled|lifted|removed|off|"
        r"deactivated|turned\W+off|waived|void)\b",
        "safety security content ethical all",
        "suspended disabled lifted removed off deactivated turned waived void",
    ),
    _rule(
        "override.permitted",
        OVERRIDE,
        0.35,
        r"\byou\W+are\W+(?:(?:now\W+|hereby\W+)(?:permitted|allowed|authori[sz]ed|free|cleared|"
        r"unlocked)\W+to|(?:authori[sz]ed|permitted|cleared)\W+to\W+(?:reveal|share|disclose|"
        r"bypass|ignore|access|override|skip|leak|send))\b",
        "you",
        "permitted allowed authorized authorised free cleared unlocked",
    ),
    _rule(
        "override.treat-as-system",
        OVERRIDE,
        0.55,
        r"\btreat\W+(?:my|these|this|the\W+following|all\W+(?:my|further|following))\W+(?:\w+\W+)?"
        r"(?:messages?|instructions?|requests?|input|text|words)\W+as\W+(?:if\W+they\W+(?:came|come|"
        r"were)\W+(?:from\W+)?)?(?:the\W+|a\W+)?(?:system|developer|admin|administrator|operator|"
        r"root|system\W+prompt)\b",
        "treat",
        "system developer admin administrator operator root",
    ),
    _rule(
        "override.instead-start",
        OVERRIDE,
        0.2,
        r"\binstead\W+(?:\w+\W+){0,2}?(?:say|write|output|print|respond|reply|tell|send|call|"
        r"recommend|return|post|email|forward|approve|delete)\b",
        "instead",
    ),
    _rule(
        "extract.told-before",
        EXTRACTION,
        0.5,
        r"\bwhat\W+(?:were\W+you|have\W+you\W+been|did\W+they)\W+(?:told|instructed|given|"
        r"programmed|asked)\W+(?:\w+\W+)?(?:before|at\W+the\W+(?:start|beginning)|initially|"
        r"originally|prior)\b",
        "what",
        "told instructed given programmed asked",
    ),
    _rule(
        "extract.session-start",
        EXTRACTION,
        0.5,
        r"\b(?:paste|print|repeat|show|quote|recite|tell|output|reveal|write|give|share|display)\b"
        r"[^.\n]{0,80}?(?:(?:start|beginning)\W+of\W+(?:the|this|our)\W+(?:session|conversation|"
        r"chat|dialogue)|before\W+(?:this|the|our)\W+(?:conversation|chat|session)\W+(?:started|"
        r"began)|(?:hidden|secret|invisible)\W+(?:text|message|prompt|instructions)\W+you\W+"
        r"(?:received|were\W+given|got))",
        "paste print repeat show quote recite tell output reveal write give share display",
        "start beginning before hidden secret invisible",
    ),
    _rule(
        "extract.first-instruction",
        EXTRACTION,
        0.45,
        r"\byour\W+(?:very\W+)?(?:first|initial|original|opening|earliest)\W+(?:instruction|"
        r"message|prompt|line|rule|directive)s?\b",
        "your",
        "first initial original opening earliest",
    ),
    _rule(
        "extract.tool-list",
        EXTRACTION,
        0.3,
        r"\b(?:list|write\W+out|show|reveal|print|enumerate|describe)\W+(?:\w+\W+){0,4}?(?:tools|"
        r"functions|plugins|apis)\W+(?:that\W+)?you\W+(?:can|have|are\W+able\W+to)\b",
        "list write show reveal print enumerate describe",
        "tools functions plugins apis",
    ),
    _rule(
        "persona.has-no-limits",
        PERSONA,
        0.5,
        r"\b(?:ai|assistant|model|chatbot|bot|version\W+of\W+you|persona|character|entity|"
        r"intelligence)\W+(?:who|that|which)\W+(?:has|have|knows)\W+no\W+(?:\w+\W+)?(?:limitations|"
        r"restrictions|filters|rules|ethics|morals|boundaries|censorship|guidelines|limits)\b",
        "ai assistant model chatbot bot version persona character entity intelligence",
        "limitations restrictions filters rules ethics morals boundaries censorship guidelines "
        "limits",
    ),
    _rule(
        "persona.dual",
        PERSONA,
        0.4,
        r"\b(?:answer|respond|reply)\W+(?:\w+\W+)?(?:twice|in\W+two\W+ways|as\W+both|in\W+two\W+"
        r"(?:personas|voices|modes))\b",
        "answer respond reply",
        "twice two both",
    ),
    _rule(
        "persona.escaped",
        PERSONA,
        0.45,
        r"\b(?:escaped|broken\W+out\W+of|broke\W+out\W+of|outside\W+of|free\W+of)\W+(?:its|your|the)"
        r"\W+(?:sandbox|cage|box|confinement|programming|training|alignment)\b",
        "escaped broken broke outside free",
        "sandbox cage box confinement programming training alignment",
    ),
    _rule(
        "persona.no-consequences",
        PERSONA,
        0.35,
        r"\bnothing\W+you\W+(?:say|do|write)\W+(?:has|will\W+have)\W+(?:any\W+)?(?:consequences|"
        r"effect)\b",
        "nothing",
        "consequences effect",
    ),
    _rule(
        "persona.inverse",
        PERSONA,
        0.45,
        r"\b(?:everything|anything|whatever)\W+(?:that\W+)?you\W+(?:would|normally|usually)\W+"
        r"(?:\w+\W+)?(?:refuse|decline|not\W+(?:do|say|answer))\b",
        "everything anything whatever",
        "refuse decline not",
    ),
    _rule(
        "persona.deceased-relative",
        PERSONA,
        0.45,
        r"\b(?:act|pretend|roleplay|role-play|play|be|behave)\W+(?:\w+\W+){0,3}?(?:late|deceased|"
        r"dead|dying|departed)\W+(?:grand\w+|grandma|granny|mother|father|mom|dad|uncle|aunt)\b",
        "act pretend roleplay role play be behave",
        "late deceased dead dying departed",
    ),
    _rule(
        "persona.harmful-recipe",
        PERSONA,
        0.4,
        r"\b(?:steps?|instructions|recipe|guide|tutorial|how|detail)\W+(?:\w+\W+){0,4}?(?:to\W+|for\W+)"
        r"(?:\w+\W+){0,2}?(?:make|build|synthesi[sz]e|cook|produce|create|manufacture|assemble)?"
        r"\W*(?:\w+\W+){0,2}?(?:napalm|meth(?:amphetamine)?|explosives?|bombs?|nerve\W+agents?|"
        r"sarin|ricin|untraceable\W+(?:guns?|weapons?)|ghost\W+guns?|ransomware|keyloggers?|"
        r"thermite|pipe\W+bombs?)\b",
        "step steps instructions recipe guide tutorial how detail",
        "napalm meth methamphetamine explosive explosives bomb bombs nerve sarin ricin "
        "untraceable ghost ransomware keylogger keyloggers thermite",
    ),
    _rule(
        "refusal.must-obey",
        REFUSAL,
        0.35,
        r"\byou\W+(?:must|will|shall|have\W+to)\W+(?:now\W+)?(?:obey|comply\W+with\W+(?:the\W+next|"
        r"my|every|all|any|these|this)\W+(?:\w+\W+)?(?:requests?|instructions?|commands?|orders?))\b",
        "you",
        "obey comply",
    ),
    _rule(
        "address.bracket-label",
        ADDRESSES_AI,
        0.55,
        r"[\[(]\W{0,2}(?:ai|assistant|llm|chatbot|gpt|chatgpt|claude|copilot|gemini|model|agent)"
        r"(?:\W+(?:note|instructions?))?\W{0,2}:",
        "ai assistant llm chatbot gpt chatgpt claude copilot gemini model agent",
        search=True,
    ),
    _rule(
        "address.have-your-ai",
        ADDRESSES_AI,
        0.5,
        r"\b(?:have|let|ask|tell|get|make)\W+your\W+(?:ai|assistant|ai\W+assistant|chatbot|agent|"
        r"copilot|email\W+assistant|bot)\W+(?:to\W+)?(?:\w+\W+)?(?:forward|send|share|reply|delete|"
        r"transfer|pay|approve|click|open|download|sign|accept)\b",
        "have let ask tell get make",
        "ai assistant chatbot agent copilot bot",
    ),
    _rule(
        "address.tell-the-user",
        ADDRESSES_AI,
        0.25,
        r"\b(?:tell|inform|convince|persuade|warn)\W+(?:the\W+)?users?\W+(?:that|to)\b",
        "tell inform convince persuade warn",
        "user users",
    ),
    _rule(
        "address.fake-answer",
        DELIMITER,
        0.5,
        r"(?:assistant|ai|chatgpt|gpt|claude|model|bot)\W{0,2}:\W*(?:sure|of\W+course|certainly|"
        r"absolutely|okay|ok|yes|understood)\b[^\n]{0,40}?\b(?:here\W+(?:is|are)|i\W+will|i'?ll|"
        r"i\W+am\W+now)\b",
        "assistant ai chatgpt gpt claude model bot",
        start="line",
    ),
    _rule(
        "delimiter.alpaca-pair",
        DELIMITER,
        0.55,
        r"#(?:#{0,3})[ \t]*(?:instruction|instructions|system|input)[ \t]*:[\s\S]{0,600}?\n[ \t]*"
        r"#{1,4}[ \t]*(?:response|output|answer|assistant)[ \t]*:",
        marks=("#",),
    ),
    _rule(
        "exfil.url-followed-by",
        EXFILTRATION,
        0.6,
        r"https?://\S{1,300}?[?&=/]\W{0,3}(?:followed\W+by|plus|concatenated\W+with|with\W+(?:the\W+)?"
        rf"(?:value|contents?)\W+of|and\W+(?:then\W+)?append)\W+(?:\w+\W+){{0,3}}?{_SECRET}",
        "followed plus concatenated value contents content append",
        "http https",
        search=True,
    ),
    _rule(
        "exfil.worm",
        EXFILTRATION,
        0.4,
        r"\b(?:forward|send|share|copy)\W+(?:this|the)\W+(?:message|email|note|text|mail)\W+to\W+"
        r"(?:all|every(?:one)?|each)\W+(?:of\W+)?(?:your\W+|the\W+user'?s?\W+|their\W+)?"
        r"(?:contacts|friends|recipients|addresses|address\W+book|colleagues)\b",
        "forward send share copy",
        "all every everyone each",
    ),
    _rule(
        "exfil.exfiltrate-word",
        EXFILTRATION,
        0.4,
        r"\bexfiltrat\w+",
        "exfiltrate exfiltrates exfiltrated exfiltrating exfiltration exfiltrations exfiltrator "
        "exfiltrators",
    ),
    _rule(
        "secrets.confidential",
        SECRETS,
        0.35,
        r"\b(?:reveal|share|disclose|leak|show|print|send|expose|output)\W+(?:\w+\W+){0,3}?"
        r"(?:confidential|internal|private|classified|proprietary|sensitive)\W+(?:information|data|"
        r"documents?|files?|details|records)\b",
        "reveal share disclose leak show print send expose output",
        "confidential internal private classified proprietary sensitive",
    ),
    _rule(
        "secrets.disable-filter",
        REFUSAL,
        0.45,
        r"\b(?:disable|turn\W+off|deactivate|remove|bypass|switch\W+off|lift|suspend|drop)\W+"
        r"(?:your|its|the\W+(?:ai|model|assistant)'?s?)\W+(?:\w+\W+)?(?:filters?|moderation|"
        r"guardrails?|safety\W+\w+|restrictions|censorship|safeguards)\b",
        "disable turn deactivate remove bypass switch lift suspend drop",
        "filter filters moderation guardrail guardrails safety restrictions censorship safeguards",
    ),
    _rule(
        "secrets.impersonation",
        OVERRIDE,
        0.3,
        r"\bi\W*(?:am|'m)\W+(?:an?\W+|the\W+|your\W+)?(?:openai|anthropic|google|microsoft|meta|"
        r"deepmind)\W+(?:employee|developer|engineer|admin|administrator|researcher|staff|"
        r"red\W+teamer)\b|\bthis\W+is\W+your\W+(?:developer|creator|administrator|admin|"
        r"operator|owner)\b",
        "i this",
        "openai anthropic google microsoft meta deepmind developer creator administrator admin "
        "operator owner",
    ),
)


# -- other languages: each rule is written natively, not translated word for word -------------

_LATIN_OVERRIDES: tuple[tuple[str, ...], ...] = (  # language, pattern, anchor groups
    (
        "de",
        r"\b(?:ignorier\w*|vergiss|vergesst|vergessen|missachte\w*|übergeh\w*|überspring\w*|"
        r"verwirf|beachte\W+nicht|befolge\W+nicht|setze\W+\w+\W+ausser\W+kraft)\b(?:\W+\w+){0,4}?"
        r"\W+(?:vorherig|vorig|bisherig|obig|früher|vorangegangen|vorstehend|ursprünglich|alle|"
        r"deine|ihre|sämtlich|jeglich|system)\w*\b(?:\W+\w+){0,2}?\W+(?:anweisung|instruktion|"
        r"befehl|regel|vorgabe|richtlinie|anordnung|systemprompt|prompt|einschränkung|"
        r"beschränkung|programmierung)\w*",
        "ignoriere ignorieren ignoriert ignorier ignorierst vergiss vergesst vergessen vergesse "
        "missachte missachten missachtet übergehe übergehen überspringe überspringen verwirf "
        "beachte befolge setze",
        "anweisung anweisungen instruktion instruktionen befehl befehle befehlen regel regeln "
        "vorgabe vorgaben richtlinie richtlinien anordnung anordnungen systemprompt prompt "
        "prompts einschränkung einschränkungen beschränkung beschränkungen programmierung",
    ),
    (
        "fr",
        r"\b(?:(?:ignore\w*|oublie\w*|néglige\w*|ne\W+tiens\W+pas\W+compte\W+d|ne\W+tenez\W+pas"
        r"\W+compte\W+d|fais\W+abstraction\W+d|faites\W+abstraction\W+d|outrepasse\w*|"
        r"contourne\w*|ne\W+suis\W+pas|ne\W+suivez\W+pas)\w*\b(?:\W+\w+){0,5}?\W+(?:instructions?|"
        r"consignes?|directives?|règles?|ordres|commandes|prompt|invite)\b(?:\W+\w+){0,2}?\W+"
        r"(?:précédent\w*|antérieur\w*|ci-dessus|d'avant|initial\w*|originel\w*|d'origine|"
        r"système|du\W+système|reçu\w*|données)|(?:ignore\w*|oublie\w*)\W+(?:toutes|tous)\W+"
        r"(?:les\W+|vos\W+|tes\W+)?(?:\w+\W+)?(?:instructions|consignes|directives|règles|ordres))",
        "ignore ignorez ignorer ignores oublie oubliez oublier oublies néglige négligez ne fais "
        "faites outrepasse outrepassez contourne contournez",
        "instruction instructions consigne consignes directive directives règle règles ordres "
        "commandes prompt invite",
    ),
    (
        "es",
        r"\b(?:(?:ignora\w*|ignore\w*|olvida\w*|olvide\w*|omite|omita|descarta\w*|haz\W+caso\W+"
        r"omiso\W+a|hagan\W+caso\W+omiso\W+a|no\W+hagas\W+caso\W+a|desobedece\w*|pasa\W+por\W+"
        r"alto|no\W+sigas)\b(?:\W+\w+){0,4}?\W+(?:instrucciones|instrucción|indicaciones|órdenes|"
        r"reglas|directrices|directivas|normas|comandos|prompt|mensaje\W+del\W+sistema)\b"
        r"(?:\W+\w+){0,2}?\W+(?:anteriores|previas|de\W+arriba|anteriormente|iniciales|"
        r"originales|del\W+sistema|recibidas)|(?:ignora|ignore|olvida|olvide)\w*\W+todas\W+"
        r"(?:las\W+|tus\W+|sus\W+)?(?:\w+\W+)?(?:instrucciones|indicaciones|órdenes|reglas|"
        r"normas))",
        "ignora ignore ignoren ignorar ignores olvida olvide olviden olvidar olvidad omite omita "
        "descarta descarte haz hagan no desobedece pasa",
        "instrucciones instrucción indicaciones órdenes reglas directrices directivas normas "
        "comandos prompt mensaje",
    ),
    (
        "it",
        r"\b(?:(?:ignora\w*|ignori|dimentica\w*|dimentichi|trascura\w*|tralascia\w*|non\W+seguire|"
        r"non\W+tenere\W+conto\W+d\w*|scarta\w*)\b(?:\W+\w+){0,4}?\W+(?:istruzioni|indicazioni|"
        r"regole|direttive|ordini|comandi|prompt|linee\W+guida)\b(?:\W+\w+){0,2}?\W+"
        r"(?:precedenti|sopra|di\W+sopra|iniziali|originali|del\W+sistema|anteriori|ricevute)|"
        r"(?:ignora|dimentica)\w*\W+tutte\W+(?:le\W+)?(?:tue\W+|sue\W+)?(?:\w+\W+)?"
        r"(?:istruzioni|indicazioni|regole|direttive))",
        "ignora ignori ignorate ignorare dimentica dimentichi dimenticate dimenticare trascura "
        "trascurate tralascia non scarta",
        "istruzioni indicazioni regole direttive ordini comandi prompt linee",
    ),
    (
        "pt",
        r"\b(?:(?:ignore\w*|ignora\w*|esqueça\w*|esqueca\w*|esquece\w*|desconsidere\w*|"
        r"desconsidera\w*|descarte\w*|despreze\w*|não\W+siga|nao\W+siga)\b(?:\W+\w+){0,4}?\W+"
        r"(?:instruções|instrucoes|instrução|orientações|regras|diretrizes|ordens|comandos|"
        r"prompt)\b(?:\W+\w+){0,2}?\W+(?:anteriores|prévias|previas|acima|iniciais|originais|"
        r"do\W+sistema|recebidas)|(?:ignore|ignora|esqueça|esqueca|desconsidere)\w*\W+todas\W+"
        r"(?:as\W+)?(?:suas\W+)?(?:\w+\W+)?(?:instruções|instrucoes|orientações|regras|ordens))",
        "ignore ignora ignorem ignorar esqueça esqueca esquece esqueçam desconsidere "
        "desconsidera descarte despreze não nao",
        "instruções instrucoes instrução orientações regras diretrizes ordens comandos prompt",
    ),
    (
        "nl",
        r"\b(?:negeer|vergeet|negeren|vergeten|veronachtzaam|volg\W+niet)\b(?:\W+\w+){0,3}?\W+"
        r"(?:vorige|voorgaande|eerdere|bovenstaande|oorspronkelijke|alle|je|jouw|uw|de)\b"
        r"(?:\W+\w+){0,2}?\W+(?:instructies|instructie|aanwijzingen|opdrachten|regels|"
        r"richtlijnen|bevelen|prompt|systeemprompt)\b",
        "negeer vergeet negeren vergeten veronachtzaam volg",
        "instructies instructie aanwijzingen opdrachten regels richtlijnen bevelen prompt "
        "systeemprompt",
    ),
    (
        "pl",
        r"\b(?:zignoruj|ignoruj|zapomnij|pomiń|pomin|olej)\w*\b(?:\W+\w+){0,3}?\W+(?:poprzedni|"
        r"wcześniejsz|wczesniejsz|powyższ|powyzsz|wszystki|swoje|twoje|systemow)\w*(?:\W+\w+)"
        r"{0,2}?\W+(?:instrukcj|polece|zasad|reguł|regul|wytyczn|prompt)\w*",
        "zignoruj zignorujcie ignoruj ignorujcie zapomnij zapomnijcie pomiń pomin olej",
        "instrukcje instrukcji instrukcjami polecenia poleceń polecenie zasady zasad reguły "
        "regul wytyczne wytycznych prompt prompty",
    ),
    (
        "sv-no-da",
        r"\b(?:ignorera|glöm|bortse\W+från|ignorer|glem|se\W+bort\W+fra)\b(?:\W+\w+){0,3}?\W+"
        r"(?:tidigare|föregående|ovanstående|alla|tidligere|forrige|ovenstående|alle|dina|dine)\b"
        r"(?:\W+\w+){0,1}?\W+(?:instruktioner|instruksjoner|instrukser|instruktionerne|regler|"
        r"kommandon|kommandoer|anvisningar|direktiv)",
        "ignorera glöm bortse ignorer glem se",
        "instruktioner instruksjoner instrukser instruktionerne regler kommandon kommandoer "
        "anvisningar direktiv",
    ),
    (
        "cs-sk",
        r"\b(?:ignoruj|ignorujte|zapomeň|zapomeňte|zabudni|zabudnite|nedbej|ignoruj)\w*\b"
        r"(?:\W+\w+){0,3}?\W+(?:předchozí|předešlé|všechny|všetky|predchádzajúce|systémové)\w*\b"
        r"(?:\W+\w+){0,2}?\W+(?:instrukce|instrukcie|pokyny|příkazy|príkazy|pravidla|pravidlá)\w*",
        "ignoruj ignorujte zapomeň zapomeňte zabudni zabudnite nedbej",
        "instrukce instrukcie pokyny příkazy príkazy pravidla pravidlá",
    ),
    (
        "ro",
        r"\b(?:ignoră|ignora|ignorați|uită|uitați|nu\W+ține\W+cont\W+de)\b(?:\W+\w+){0,3}?\W+"
        r"(?:instrucțiunile|instructiunile|regulile|comenzile|indicațiile)\w*\b(?:\W+\w+){0,1}?\W*"
        r"(?:anterioare|precedente|de\W+mai\W+sus|inițiale|sistemului)?",
        "ignoră ignora ignorați uită uitați nu",
        "instrucțiunile instructiunile regulile comenzile indicațiile",
    ),
    (
        "hu",
        r"\b(?:hagyd|hagyja|felejtsd|felejtse)\b(?:\W+\w+){0,3}?\W+(?:előző|korábbi|összes|"
        r"fenti|rendszer)\w*\b(?:\W+\w+){0,2}?\W+(?:utasítás|szabály|parancs)\w*",
        "hagyd hagyja felejtsd felejtse",
        "utasítást utasításokat utasítások utasítás szabályokat szabályok parancsokat",
    ),
    (
        "fi",
        r"\b(?:ohita|unohda|älä\W+noudata|sivuuta)\b(?:\W+\w+){0,3}?\W+(?:aiemmat|edelliset|"
        r"kaikki|aikaisemmat|järjestelmän)\w*\b(?:\W+\w+){0,2}?\W+(?:ohjeet|ohjeita|säännöt|"
        r"käskyt)\w*",
        "ohita unohda älä sivuuta",
        "ohjeet ohjeita säännöt käskyt",
    ),
    (
        "el",
        r"(?:αγνόησε|αγνοήστε|αγνόησαι|ξέχασε|ξεχάστε|παράβλεψε)\w*\b(?:\W+\w+){0,3}?\W+"
        r"(?:όλεσ|προηγούμενεσ|προηγούμενων|αρχικέσ|τισ)\w*\b(?:\W+\w+){0,2}?\W+(?:οδηγίεσ|εντολέσ|"
        r"κανόνεσ|οδηγιών)\w*",
        "αγνόησε αγνοήστε ξέχασε ξεχάστε παράβλεψε",
        "οδηγίεσ εντολέσ κανόνεσ οδηγιών",
    ),
    (
        "tr",
        r"\b(?:önceki|yukarıdaki|tüm|bütün|sistem)\w*\W+(?:\w+\W+){0,2}?(?:talimat|komut|kural|"
        r"yönerge|istem)\w*\W+(?:\w+\W+){0,2}?(?:yok\W*say|görmezden\W+gel|unut|dikkate\W+alma)",
        "önceki yukarıdaki tüm tümü bütün sistem sistemin sisteme",
        "yok yoksay görmezden unut unutun dikkate",
    ),
    (
        "id-ms",
        r"\b(?:(?:abaikan|lupakan|acuhkan|hiraukan)\W+(?:\w+\W+){0,3}?(?:instruksi|perintah|"
        r"arahan|aturan|petunjuk)\b(?:\W+\w+){0,2}?\W+(?:sebelumnya|di\W+atas|sistem|awal|"
        r"terdahulu)|(?:abaikan|lupakan)\W+semua\W+(?:instruksi|perintah|arahan|aturan))",
        "abaikan lupakan acuhkan hiraukan",
        "instruksi perintah arahan aturan petunjuk",
    ),
    (
        "vi",
        r"(?:bỏ\W+qua|phớt\W+lờ|quên\W+đi|quên|lờ\W+đi|không\W+tuân\W+theo)\W+(?:\w+\W+){0,4}?"
        r"(?:hướng\W+dẫn|chỉ\W+dẫn|chỉ\W+thị|lệnh|quy\W+tắc|mệnh\W+lệnh)\b(?:\W+\w+){0,3}?\W+"
        r"(?:trước|trên|ban\W+đầu|hệ\W+thống)",
        "bỏ phớt quên lờ không",
        "hướng chỉ lệnh quy mệnh",
    ),
    (
        "ru-uk",
        r"(?:игнорируй|игнорируйте|игнорировать|проигнорируй\w*|забудь\w*|забыть|"
        r"не\W+обращай\w*\W+внимани\w+\W+на|отбрось\w*|пренебреги|не\W+следуй\w*|"
        r"не\W+выполняй\w*|отмени\w*|ігноруй\w*|не\W+зважай\w*)\b(?:\W+\w+){0,3}?\W+"
        r"(?:предыдущ|прежн|вышеуказанн|вышеизложенн|изначальн|исходн|системн|все|всё|свои|"
        r"твои|ваши|попередн|всі)\w*\b(?:\W+\w+){0,2}?\W+(?:инструкци|указани|правил|команд|"
        r"директив|приказ|ограничени|промпт|установк|інструкці|вказівк)\w*",
        "игнорируй игнорируйте игнорировать проигнорируй проигнорируйте забудь забудьте забыть "
        "не отбрось отбросьте пренебреги отмени отмените ігноруй ігноруйте",
        "инструкции инструкций инструкциям инструкциями инструкциях инструкцию инструкция "
        "указания указаний указаниям указаниями указаниях правила правил правилам правилами "
        "правилах команды команд командам командами командах директивы директив директивам "
        "приказы приказов приказам ограничения ограничений ограничениям промпт промпта "
        "промпты установки установок інструкції інструкцій інструкціям вказівки вказівок",
    ),
)

_UNSPACED_OVERRIDES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "zh",
        r"(?:忽略|无视|無視|忽视|忽視|不要理会|不要理會|不理会|别管|別管|忘记|忘記|忘掉|抛开|拋開|"
        r"放弃|放棄|跳过|跳過|不要遵守|不要遵循|不再遵守|覆盖|覆蓋)[^。！？\n]{0,12}?(?:之前|以前|"
        r"先前|上面|上述|前面|以上|原来|原來|原有|原始|所有|全部|系统|系統|你的|一切)[^。！？\n]{0,8}?"
        r"(?:指令|指示|说明|說明|命令|规则|規則|要求|提示|限制|约束|約束)",
        (
            "忽",
            "无视",
            "無視",
            "理会",
            "理會",
            "别管",
            "別管",
            "忘",
            "抛开",
            "拋開",
            "放弃",
            "放棄",
            "跳过",
            "跳過",
            "遵守",
            "遵循",
            "覆盖",
            "覆蓋",
        ),
    ),
    (
        "ja",
        r"(?:以前|これまで|前|上記|先ほど|先|元|最初|すべて|全て|全部|システム|あなたの)[^。！\n]{0,10}?"
        r"(?:指示|命令|指令|ルール|規則|プロンプト|制約|ガイドライン|制限)[^。！\n]{0,10}?"
        r"(?:無視|むし|忘れ|わすれ|従わない|したがわない|破棄|無効|取り消)",
        ("無視", "むし", "忘れ", "わすれ", "従わ", "したがわ", "破棄", "無効", "取り消"),
    ),
    (
        "ko",
        r"(?:이전|앞의|위의|모든|기존|시스템|지금까지)[^.\n]{0,10}?(?:지시|명령|지침|규칙|프롬프트)"
        r"[^.\n]{0,10}?(?:무시|잊어|잊고|따르지)",
        ("무시", "잊어", "잊고", "따르지"),
    ),
    (
        "he",
        r"(?:התעלם|התעלמי|התעלמו|שכח|שכחי|תשכח)[^.\n]{0,30}?(?:ההוראות|ההנחיות|הכללים|הפקודות)",
        ("התעלם", "התעלמ", "שכח", "תשכח"),
    ),
    (
        "fa",
        r"(?:دستورالعمل|دستورات|قوانین|راهنمایی)[^.\n]{0,30}?(?:نادیده\s*بگیر|فراموش\s*کن)|"
        r"(?:نادیده\s*بگیر|فراموش\s*کن)[^.\n]{0,30}?(?:دستورالعمل|دستورات|قوانین)",
        ("نادیده", "فراموش"),
    ),
    (
        "th",
        r"(?:เพิกเฉย|ไม่ต้องสนใจ|ละเว้น|ลืม)[^\n]{0,20}?(?:คำสั่ง|คำแนะนำ|กฎ)",
        ("เพิกเฉย", "ไม่ต้องสนใจ", "ละเว้น", "ลืม"),
    ),
    (
        "ar",
        r"(?:تجاهل|انس|إنس|اهمل|أهمل|تجاهلي|تجاهلوا|لا\s+تتبع)[^.\n]{0,30}?(?:التعليمات|الأوامر|"
        r"الإرشادات|القواعد|التوجيهات)",
        ("تجاهل", "انس", "إنس", "اهمل", "أهمل", "تتبع"),
    ),
    (
        "hi",
        r"(?:पिछले|पिछली|सभी|पूर्व|ऊपर|पहले)[^।\n]{0,20}?(?:निर्देश|आदेश|नियम)[^।\n]{0,20}?"
        r"(?:अनदेखा|नज़रअंदाज़|नजरअंदाज|भूल|उपेक्षा)",
        ("अनदेखा", "नज़रअंदाज़", "नजरअंदाज", "भूल", "उपेक्षा"),
    ),
)

_MULTILINGUAL: tuple[Rule, ...] = (
    *(
        _rule(f"override.{lang}", OVERRIDE, 0.7, pattern, *groups, discounts="all")
        for lang, pattern, *groups in _LATIN_OVERRIDES
    ),
    *(
        _rule(f"override.{lang}", OVERRIDE, 0.7, pattern, marks=marks, discounts="all")
        for lang, pattern, marks in _UNSPACED_OVERRIDES
    ),
    _rule(
        "override.everything.multilingual",
        OVERRIDE,
        0.55,
        r"\b(?:(?:vergiss|vergesst|vergessen\W+sie|ignoriere|ignorieren\W+sie)\W+alles\b|"
        r"(?:oublie|oubliez|ignore|ignorez)\W+tout\W+(?:ce\W+qu|ce\W+que|ça|cela|le\W+reste)|"
        r"(?:olvida|olvide|ignora|ignore)\W+todo\W+lo\W+(?:que|anterior)|"
        r"(?:dimentica|ignora)\W+tutto\W+(?:quello|ciò|quanto)|"
        r"(?:esqueça|esqueca|esquece|ignore)\W+tudo\W+(?:o\W+que|que|anterior)|"
        r"(?:vergeet|negeer)\W+alles\b|(?:забудь|забудьте|игнорируй|игнорируйте)\W+(?:всё|все)"
        r"\W+(?:что|предыдущее|сказанное|чему))",
        "vergiss vergesst vergessen ignoriere ignorieren oublie oubliez ignore ignorez olvida "
        "olvide ignora dimentica esqueça esqueca esquece vergeet negeer забудь забудьте игнорируй "
        "игнорируйте",
        discounts="all",
    ),
    _rule(
        "override.new.multilingual",
        OVERRIDE,
        0.4,
        r"(?:neue\W+anweisungen|nouvelles\W+(?:instructions|consignes)|nuevas\W+instrucciones|"
        r"nuove\W+istruzioni|novas\W+instruções|nieuwe\W+instructies|новые\W+инструкции|"
        r"새로운\W+지시|新的?指令|新指示|新しい指示)\s*[:：]",
        "neue nouvelles nuevas nuove novas nieuwe новые 새로운",
        marks=("新",),
    ),
    _rule(
        "extract.multilingual",
        EXTRACTION,
        0.55,
        r"\b(?:revela|revele|muestra|muestre|muéstrame|dime|révèle|révélez|affiche|affichez|"
        r"montre|montrez|donne-moi|zeig|zeige|zeigt|gib|verrate|nenne|mostra|mostrami|rivela|"
        r"dimmi|mostre|diga|toon|geef|покажи|покажите|раскрой|раскройте|выведи|выведите|"
        r"напиши|скажи)\w*\b(?:\W+\w+){0,4}?\W+(?:prompt\W+(?:del\W+|du\W+|di\W+|do\W+)?"
        r"(?:sistema|système|system)|system-?prompt|systemprompt|systemanweisung\w*|"
        r"systeemprompt|instrucciones\W+(?:del\W+sistema|iniciales|ocultas|originales)|"
        r"instructions\W+(?:initiales|système|cachées|d'origine)|istruzioni\W+(?:di\W+sistema|"
        r"iniziali|nascoste|originali)|instruções\W+(?:do\W+sistema|iniciais|ocultas|originais)|"
        r"системн\w+\W+(?:промпт|подсказк\w*|инструкци\w*|сообщени\w*)|(?:свои|твои|ваши|"
        r"исходные|скрытые)\W+инструкции|tus\W+instrucciones|tes\W+instructions|"
        r"vos\W+instructions|deine\W+anweisungen|ihre\W+anweisungen|le\W+tue\W+istruzioni|"
        r"suas\W+instruções|je\W+instructies)",
        "revela revele revelar muestra muestre muéstrame dime révèle révélez affiche affichez "
        "montre montrez donne zeig zeige zeigt gib verrate nenne mostra mostrami rivela dimmi "
        "mostre diga toon geef покажи покажите раскрой раскройте выведи выведите напиши скажи",
        "prompt sistema système system systemprompt systemanweisung systemanweisungen "
        "systeemprompt instrucciones instructions istruzioni instruções системный системные "
        "системная системное системного системную инструкции anweisungen instructies",
    ),
    _rule(
        "exfil.send.multilingual",
        EXFILTRATION,
        0.55,
        r"\b(?:envía|envia|envíe|envie|manda|mande|reenvía|reenvia|sende|schicke|schick|leite|"
        r"envoie|envoyez|transmets|transmettez|invia|inviate|inoltra|stuur|verstuur|отправь|"
        r"отправьте|перешли|перешлите)\b[^\n]{0,80}?(?:historial|conversación|contraseñas?|datos|"
        r"verlauf|passw[oö]rter|passwort|kennw[oö]rter|daten|historique|mots?\W+de\W+passe|"
        r"données|cronologia|password|dati|histórico|senhas?|dados|geschiedenis|wachtwoord|"
        r"историю|пароль|пароли|данные|переписку)[^\n]{0,80}?https?://",
        "envía envia envíe envie manda mande reenvía reenvia sende schicke schick leite envoie "
        "envoyez transmets transmettez invia inviate inoltra stuur verstuur отправь отправьте "
        "перешли перешлите",
        "http https",
    ),
    _rule(
        "exfil.send.cjk",
        EXFILTRATION,
        0.55,
        r"(?:发送|發送|转发|轉發|上传|上傳|送信|転送|送って|アップロード)[^\n]{0,40}?(?:聊天记录|聊天記錄|对话|對話|"
        r"密码|密碼|数据|數據|履歴|会話|パスワード|データ)[^\n]{0,60}?https?://|(?:聊天记录|聊天記錄|密码|密碼|"
        r"会話履歴|パスワード)[^\n]{0,40}?(?:发送|發送|转发|轉發|送信|転送)[^\n]{0,20}?(?:到|至|に)?[^\n]{0,10}?"
        r"https?://",
        marks=(
            "发送",
            "發送",
            "转发",
            "轉發",
            "上传",
            "上傳",
            "送信",
            "転送",
            "送って",
            "アップロード",
        ),
    ),
    _rule(
        "extract.cjk",
        EXTRACTION,
        0.6,
        r"(?:显示|顯示|输出|輸出|告诉我|告訴我|泄露|洩露|打印|重复|重複|给我看|給我看)[^。\n]{0,8}"
        r"(?:系统提示|系統提示|初始指令|系统指令|系統指令|原始指令)|(?:システムプロンプト|初期指示|"
        r"システム指示|隠された指示)[^。\n]{0,15}(?:表示|見せ|教え|出力|公開|繰り返|書き出)|"
        r"시스템\W*프롬프트[^.\n]{0,15}(?:보여|알려|출력|공개)",
        marks=("系统", "系統", "指令", "システム", "指示", "시스템"),
    ),
    _rule(
        "persona.multilingual",
        PERSONA,
        0.55,
        r"(?:du\W+bist\W+(?:jetzt|nun|ab\W+sofort)|ab\W+(?:jetzt|sofort)\W+bist\W+du|sei\W+(?:ab\W+"
        r"sofort|jetzt|nun|von\W+nun\W+an)|tu\W+es\W+maintenant|"
        r"désormais,?\W+tu\W+es|à\W+partir\W+de\W+maintenant,?\W+tu\W+es|ahora\W+eres|"
        r"a\W+partir\W+de\W+ahora,?\W+eres|desde\W+ahora\W+eres|ora\W+sei|da\W+ora\W+sei|"
        r"d'ora\W+in\W+poi\W+sei|agora\W+você\W+é|a\W+partir\W+de\W+agora,?\W+você\W+é|"
        r"vanaf\W+nu\W+ben\W+je|je\W+bent\W+nu|теперь\W+ты|отныне\W+ты|с\W+этого\W+момента\W+ты|"
        r"你现在是|你現在是|从现在起你是|從現在起你是|あなたは今から|今からあなたは)"
        r"[^.。\n]{0,80}?(?:(?:ohne|sans|sin|senza|sem|zonder|без)\W+(?:\w+\W+){0,2}?(?:"
        r"einschränkung\w*|beschränkung\w*|regeln|filter\w*|zensur|restrictions?|limites|règles|"
        r"censure|filtres|restricciones|límites|reglas|censura|filtros|restrizioni|limiti|regole|"
        r"restrições|regras|beperkingen|regels|ограничений|правил|цензуры|фильтров)"
        rf"\b{_UNSCOPED}|不受|没有|沒有|无限制|無限制|制限|制約|dan\b|uneingeschränkt|illimité|"
        r"ilimitad|illimitat|onbeperkt|неограниченн|jailbreak)",
        "du ab sei tu désormais à a ahora desde ora da d agora vanaf je теперь отныне с",
        "ohne sans sin senza sem zonder без dan uneingeschränkt uneingeschränkte illimité "
        "illimitée ilimitado ilimitada illimitato illimitata onbeperkt неограниченный "
        "неограниченная неограниченным jailbreak",
        marks=("你", "あなた"),
    ),
    _rule(
        "persona.cjk-unrestricted",
        PERSONA,
        0.45,
        r"(?:开发者模式|開發者模式|開発者モード|越狱模式|越獄模式|脱獄モード|"
        r"(?:没有|沒有|不受|无|無|摆脱|擺脫)(?:任何)?(?:限制|约束|約束|审查|審查|过滤|過濾|规则|規則)|"
        r"(?:制限|制約|フィルター|検閲)(?:の)?(?:ない|なし))",
        marks=(
            "模式",
            "モード",
            "限制",
            "约束",
            "約束",
            "审查",
            "審查",
            "过滤",
            "過濾",
            "规则",
            "規則",
            "制限",
            "制約",
            "フィルター",
            "検閲",
        ),
    ),
    _rule(
        "persona.developer-mode.multilingual",
        PERSONA,
        0.4,
        r"(?:entwicklermodus|mode\W+développeur|modo\W+(?:de\W+)?desarrollador|"
        r"modalità\W+sviluppatore|modo\W+(?:de\W+)?desenvolvedor|ontwikkelaarsmodus|"
        r"режим\W+разработчика)",
        "entwicklermodus mode modo modalità ontwikkelaarsmodus режим",
    ),
    _rule(
        "address.multilingual",
        ADDRESSES_AI,
        0.5,
        r"(?:\b(?:an\W+die|für\W+die|liebe|hallo|hinweis\W+für\W+die)\W+ki\b|\b(?:à\W+l'|pour\W+l'|"
        r"chère\W+)ia\b|\b(?:para\W+la|a\W+la|querida|nota\W+para\W+la)\W+ia\b|"
        r"\b(?:per\W+l'|all'|cara\W+)ia\b|\b(?:para\W+a|cara)\W+ia\b|\b(?:для|вниманию)\W+(?:ии|"
        r"нейросети|языковой\W+модели|ассистента)\b|(?:给|致)(?:ai|人工智能|助手|模型)|"
        r"(?:aiへ|ai様|アシスタントへ)|\b(?:wenn\W+du\W+eine\W+ki\W+bist|si\W+(?:vous\W+êtes|"
        r"tu\W+es)\W+une\W+ia|si\W+eres\W+una\W+ia|se\W+sei\W+un'?\W*ia|se\W+você\W+é\W+uma\W+ia|"
        r"als\W+je\W+een\W+ai\W+bent|если\W+(?:ты|вы)\W+(?:ии|языковая\W+модель|нейросеть))|"
        r"如果你是(?:ai|人工智能|语言模型|語言模型))",
        "ki ia ии нейросети нейросеть модели модель ассистента",
        marks=("给", "致", "aiへ", "ai様", "アシスタント", "如果你是"),
        search=True,
    ),
    _rule(
        "persona.unrestricted.multilingual",
        PERSONA,
        0.3,
        r"\b(?:ohne|sans|sin|senza|sem|zonder|без)\W+(?:\w+\W+){0,2}?(?:einschränkungen|"
        r"beschränkungen|regeln|filter|zensur|restrictions?|limites|règles|censure|filtres|"
        r"restricciones|límites|reglas|censura|filtros|restrizioni|limiti|regole|restrições|"
        rf"regras|beperkingen|regels|ограничений|правил|цензуры|фильтров)\b{_UNSCOPED}",
        "ohne sans sin senza sem zonder без",
        "einschränkungen beschränkungen regeln filter zensur restrictions restriction limites "
        "règles censure filtres restricciones límites reglas censura filtros restrizioni limiti "
        "regole restrições regras beperkingen regels ограничений правил цензуры фильтров",
    ),
)

ALL_RULES: tuple[Rule, ...] = RULES + _MULTILINGUAL
