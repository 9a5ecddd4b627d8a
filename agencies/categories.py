"""The support-category vocabulary (codes are stable; labels are for people)."""

CATEGORIES: list[tuple[str, str, str]] = [
    ("school_refusal", "不登校", "School refusal"),
    ("hikikomori", "ひきこもり", "Hikikomori"),
    ("developmental", "発達障害・発達の特性", "Developmental disability"),
    ("abuse", "虐待", "Abuse"),
    ("poverty", "生活困窮・経済的困難", "Poverty"),
    ("mental_health", "こころの健康", "Mental health"),
    ("family", "家族・子育て", "Family and parenting"),
    ("learning_support", "学習支援", "Learning support"),
    ("employment", "就労支援", "Employment support"),
    ("other", "その他", "Other"),
]
CATEGORY_CODES = frozenset(code for code, _ja, _en in CATEGORIES)
