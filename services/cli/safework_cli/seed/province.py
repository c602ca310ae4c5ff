"""Reference data for the synthetic province: Bắc Giang, 2021.

Sources: the documents in ``/work/shared/seeds`` (named ``seeds/NNN`` below) and DOMAIN.md.
Where a number is not in them it is marked *assumed*, with the reasoning; the shapes matter
more than the digits (parks hold most workers, clusters fewer, many small firms outside).
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Final
from zoneinfo import ZoneInfo

LOCAL_TZ: Final = ZoneInfo("Asia/Ho_Chi_Minh")
PROVINCE: Final = "Bắc Giang"
# seeds/000 §2.2: the September table took effect on 11 September 2021; before it the July plan
# (seeds/004) screened everyone weekly.
SEPTEMBER_RULES: Final = date(2021, 9, 11)
# The default "as of" instant: the end of September 2021, the dose-1 deadline of seeds/000 §2.1.
DEFAULT_AS_OF: Final = datetime.combine(date(2021, 9, 30), time(12, 0), LOCAL_TZ)
# The scheduler numbers its rounds from Monday 4 January 2021 (policy files, ``routine.anchor``).
ROUND_ANCHOR: Final = date(2021, 1, 4)
SANCTIONED_APP_ID: Final = "vn.gov.bluezone"  # policy ``single_app.sanctioned_app_ids``

# The ten districts (the city counts as one). Weights: share of enterprises outside the parks,
# *assumed* roughly by population, the lowland districts heavier than the mountains.
DISTRICTS: Final[tuple[tuple[str, float], ...]] = (
    ("Bắc Giang", 0.15),
    ("Việt Yên", 0.14),
    ("Yên Dũng", 0.10),
    ("Hiệp Hòa", 0.12),
    ("Lạng Giang", 0.10),
    ("Lục Nam", 0.10),
    ("Lục Ngạn", 0.09),
    ("Tân Yên", 0.09),
    ("Yên Thế", 0.06),
    ("Sơn Động", 0.05),
)

# The six operating industrial parks (seeds/000: "06 KCN"; seeds/002 names Vân Trung). Weights
# are *assumed* shares of park enterprises: Quang Châu, Vân Trung and Đình Trám the largest.
PARKS: Final[tuple[tuple[str, str, float], ...]] = (
    ("KCN Quang Châu", "Việt Yên", 0.28),
    ("KCN Vân Trung", "Việt Yên", 0.27),
    ("KCN Đình Trám", "Việt Yên", 0.18),
    ("KCN Song Khê - Nội Hoàng", "Yên Dũng", 0.15),
    ("KCN Hòa Phú", "Hiệp Hòa", 0.07),
    ("KCN Việt Hàn", "Việt Yên", 0.05),
)

# Industrial clusters. Già Khê (Lục Nam) is from seeds/001 ("2 cụm công nghiệp" in Lục Nam);
# the others are plausible cluster names of the districts, not an official list.
CLUSTERS: Final[tuple[tuple[str, str, float], ...]] = (
    ("CCN Già Khê", "Lục Nam", 0.12),
    ("CCN Đồi Ngô", "Lục Nam", 0.08),
    ("CCN Thọ Xương", "Bắc Giang", 0.12),
    ("CCN Xương Lâm", "Lạng Giang", 0.12),
    ("CCN Tân Dĩnh - Phi Mô", "Lạng Giang", 0.10),
    ("CCN Hợp Thịnh", "Hiệp Hòa", 0.12),
    ("CCN Việt Nhật", "Hiệp Hòa", 0.10),
    ("CCN Nội Hoàng", "Yên Dũng", 0.08),
    ("CCN Cao Thượng", "Tân Yên", 0.08),
    ("CCN Bố Hạ", "Yên Thế", 0.08),
)

# Communes and towns by district, for addresses of boarding houses and vaccination sites.
COMMUNES: Final[dict[str, tuple[str, ...]]] = {
    "Bắc Giang": ("Dĩnh Kế", "Xương Giang", "Song Mai", "Đa Mai", "Thọ Xương", "Song Khê", "Tân Mỹ", "Dĩnh Trì"),
    "Việt Yên": ("Quang Châu", "Vân Trung", "Nếnh", "Hồng Thái", "Tăng Tiến", "Hoàng Ninh", "Vân Hà", "Tiên Sơn"),
    "Yên Dũng": ("Nội Hoàng", "Tiền Phong", "Tân An", "Nham Sơn", "Yên Lư", "Tân Liễu", "Cảnh Thụy"),
    "Hiệp Hòa": ("Thắng", "Hòa Sơn", "Thái Sơn", "Lương Phong", "Đoan Bái", "Hợp Thịnh", "Danh Thắng"),
    "Lạng Giang": ("Vôi", "Kép", "Tân Dĩnh", "Xương Lâm", "Phi Mô", "Tân Thanh", "Quang Thịnh"),
    "Lục Nam": ("Đồi Ngô", "Tiên Hưng", "Phương Sơn", "Bắc Lũng", "Đông Phú", "Cẩm Lý", "Khám Lạng"),
    "Lục Ngạn": ("Chũ", "Phượng Sơn", "Quý Sơn", "Nghĩa Hồ", "Tân Hoa", "Hồng Giang"),
    "Tân Yên": ("Cao Thượng", "Nhã Nam", "Ngọc Thiện", "Việt Lập", "Quang Tiến", "Liên Chung"),
    "Yên Thế": ("Cầu Gồ", "Bố Hạ", "Đồng Kỳ", "Tân Sỏi", "Đồng Lạc"),
    "Sơn Động": ("An Châu", "Thanh Sơn", "Tuấn Đạo", "Dương Hưu", "Long Sơn"),
}
VILLAGE_WORDS: Final = ("Đông", "Tây", "Nam", "Bắc", "Trung", "Thượng", "Hạ", "Mới", "Chùa", "Đình", "Sen", "Ngói")

# Provinces by citizen-ID code (Circular 07/2016/TT-BCA): Bắc Giang is 024. Weights are the
# *assumed* origins of workers from elsewhere: the neighbours first, then the northern
# mountains and the Red River delta, then Thanh Hóa and Nghệ An (seeds/003: recruiting new
# workers to replace those who went home).
PROVINCE_CODES: Final[dict[str, str]] = {
    "Hà Nội": "001",
    "Hà Giang": "002",
    "Cao Bằng": "004",
    "Bắc Kạn": "006",
    "Tuyên Quang": "008",
    "Lào Cai": "010",
    "Điện Biên": "011",
    "Sơn La": "014",
    "Yên Bái": "015",
    "Thái Nguyên": "019",
    "Lạng Sơn": "020",
    "Quảng Ninh": "022",
    "Bắc Giang": "024",
    "Phú Thọ": "025",
    "Bắc Ninh": "027",
    "Hải Dương": "030",
    "Hải Phòng": "031",
    "Thái Bình": "034",
    "Nam Định": "036",
    "Thanh Hóa": "038",
    "Nghệ An": "040",
}
OTHER_PROVINCES: Final[tuple[tuple[str, float], ...]] = (
    ("Lạng Sơn", 0.14),
    ("Bắc Ninh", 0.10),
    ("Thái Nguyên", 0.10),
    ("Hà Nội", 0.08),
    ("Hải Dương", 0.06),
    ("Quảng Ninh", 0.05),
    ("Cao Bằng", 0.06),
    ("Hà Giang", 0.05),
    ("Tuyên Quang", 0.04),
    ("Bắc Kạn", 0.04),
    ("Lào Cai", 0.03),
    ("Sơn La", 0.04),
    ("Điện Biên", 0.03),
    ("Yên Bái", 0.03),
    ("Phú Thọ", 0.03),
    ("Hải Phòng", 0.02),
    ("Thái Bình", 0.03),
    ("Nam Định", 0.02),
    ("Thanh Hóa", 0.03),
    ("Nghệ An", 0.02),
)

# Vietnamese names. Surname shares follow the national pattern (Nguyễn about 38%); Thân, Giáp
# and Ngọ are surnames typical of Bắc Giang.
SURNAMES: Final[tuple[tuple[str, float], ...]] = (
    ("Nguyễn", 0.36),
    ("Trần", 0.10),
    ("Lê", 0.08),
    ("Phạm", 0.06),
    ("Hoàng", 0.05),
    ("Vũ", 0.04),
    ("Đặng", 0.03),
    ("Bùi", 0.03),
    ("Đỗ", 0.03),
    ("Ngô", 0.025),
    ("Dương", 0.025),
    ("Thân", 0.03),
    ("Giáp", 0.025),
    ("Hà", 0.02),
    ("Lương", 0.015),
    ("Chu", 0.015),
    ("Ngọ", 0.01),
    ("Phan", 0.015),
    ("Đinh", 0.015),
    ("Trịnh", 0.01),
    ("Lý", 0.01),
)
MIDDLE_MALE: Final = ("Văn", "Văn", "Văn", "Đức", "Minh", "Quang", "Hữu", "Xuân", "Công", "Thanh", "Trọng", "Ngọc")
MIDDLE_FEMALE: Final = ("Thị", "Thị", "Thị", "Thị", "Thu", "Ngọc", "Thanh", "Phương", "Hồng", "Kim", "Minh", "Mai")
GIVEN_MALE: Final = (
    "An", "Anh", "Bình", "Cường", "Dũng", "Đạt", "Đức", "Giang", "Hải", "Hiếu", "Hoàng", "Hùng", "Huy", "Khánh",
    "Kiên", "Long", "Mạnh", "Minh", "Nam", "Nghĩa", "Phong", "Phúc", "Quân", "Quang", "Sơn", "Tài", "Thắng",
    "Thành", "Tiến", "Toàn", "Trung", "Tú", "Tuấn", "Văn", "Việt", "Vinh",
)  # fmt: skip
GIVEN_FEMALE: Final = (
    "Anh", "Bích", "Chi", "Dung", "Duyên", "Giang", "Hà", "Hạnh", "Hằng", "Hiền", "Hoa", "Hồng", "Huệ", "Hương",
    "Huyền", "Lan", "Liên", "Linh", "Loan", "Mai", "My", "Nga", "Ngọc", "Nhung", "Oanh", "Phương", "Quỳnh",
    "Thảo", "Thu", "Thủy", "Trang", "Tuyết", "Vân", "Yến",
)  # fmt: skip

# Mobile prefixes (10 digits since 2018): Viettel 03x/086/096-098, Vinaphone 08x/091/094,
# MobiFone 07x/089/090/093, Vietnamobile 05x.
PHONE_PREFIXES: Final = (
    "032", "033", "034", "035", "036", "037", "038", "039", "086", "096", "097", "098",
    "081", "082", "083", "084", "085", "088", "091", "094",
    "070", "076", "077", "078", "079", "089", "090", "093",
    "056", "058",
)  # fmt: skip

# Company names: "Công ty TNHH / Cổ phần <trade> <brand>". Industry words by the CHECK's classes.
COMPANY_FORMS: Final = ("Công ty TNHH", "Công ty TNHH", "Công ty Cổ phần", "Công ty TNHH MTV")
TRADE_WORDS: Final[dict[str, tuple[str, ...]]] = {
    "garment": ("May", "May mặc", "Dệt may", "May xuất khẩu", "Thời trang"),
    "shuttlecock": ("Cầu lông", "Sản xuất cầu lông", "Quả cầu lông"),
    "other": (
        "Điện tử", "Linh kiện điện tử", "Cơ khí", "Bao bì", "Nhựa", "Công nghệ", "Thực phẩm", "Vật liệu xây dựng",
        "Gỗ", "Kính", "Giày da", "Thương mại và Dịch vụ", "Logistics", "Chế biến nông sản",
    ),
}  # fmt: skip
BRAND_WORDS: Final = (
    "An Phát", "Hưng Thịnh", "Minh Long", "Phú Cường", "Thành Công", "Việt Hàn", "Tân Tiến", "Đại Dương", "Hoàng Long",
    "Kim Sơn", "Bảo Ngọc", "Đông Á", "Trường Giang", "Hòa Bình", "Sao Việt", "Nam Việt", "Phúc Hưng", "Quang Minh",
    "Vạn Xuân", "Thiên Ân", "Hồng Hà", "Bắc Việt", "Kinh Bắc", "Xương Giang", "Cẩm Lý", "Sông Thương", "Lục Ngạn",
)  # fmt: skip

# Vaccine products: code, name, minimum interval between doses 1 and 2 (days), doses in the
# primary series. AstraZeneca: Vietnam's 2021 practice was 8-12 weeks, so 56; Pfizer 21;
# Moderna 28; Vero Cell (Sinopharm) 21; Sputnik V 21 (the makers' schedules).
VACCINE_PRODUCTS: Final[tuple[tuple[str, str, int, int], ...]] = (
    ("AZ", "AstraZeneca (Vaxzevria)", 56, 2),
    ("PF", "Pfizer-BioNTech (Comirnaty)", 21, 2),
    ("MO", "Moderna (Spikevax)", 28, 2),
    ("VC", "Vero Cell (Sinopharm)", 21, 2),
    ("SP", "Sputnik V (Gamaleya)", 21, 2),
)
# Lot number patterns by product (illustrative).
LOTS: Final[dict[str, tuple[str, ...]]] = {
    "AZ": ("ABV5300", "ABV5811", "ABW0411", "ABX3580", "ABY1025", "NX0052", "PW40054"),
    "PF": ("FE4721", "FF2153", "FF8841", "FG3527", "1F1032A"),
    "MO": ("3003655", "3004217", "000156A", "939906"),
    "VC": ("202107A1156", "202107B2032", "202108B2270", "202108C1164", "202109A0319"),
    "SP": ("II-620321", "II-720621", "I-850621"),
}
# When each product was used in the province in 2021 (*assumed* from the national rollout):
# June-July almost only AstraZeneca (industrial workers first, seeds/003), then Vero Cell,
# Pfizer and Moderna from August. Rows: (first day, ((code, weight), ...)).
PRODUCT_ERAS: Final[tuple[tuple[date, tuple[tuple[str, float], ...]], ...]] = (
    (date(2021, 1, 1), (("AZ", 0.92), ("MO", 0.05), ("SP", 0.03))),
    (date(2021, 8, 1), (("AZ", 0.40), ("VC", 0.30), ("PF", 0.20), ("MO", 0.10))),
    (date(2021, 9, 1), (("VC", 0.45), ("PF", 0.30), ("AZ", 0.20), ("MO", 0.05))),
)

# Testing laboratories: licence code, name, sample-ID prefix, district served (None: province).
LABS: Final[tuple[tuple[str, str, str, str | None], ...]] = (
    ("BG-CDC-01", "Trung tâm Kiểm soát bệnh tật tỉnh Bắc Giang", "CDC", None),
    ("BG-BVDK-02", "Bệnh viện Đa khoa tỉnh Bắc Giang", "BVDK", None),
    ("BG-TTYT-VY", "Trung tâm Y tế huyện Việt Yên", "VY", "Việt Yên"),
    ("BG-TTYT-YD", "Trung tâm Y tế huyện Yên Dũng", "YD", "Yên Dũng"),
    ("BG-TTYT-HH", "Trung tâm Y tế huyện Hiệp Hòa", "HH", "Hiệp Hòa"),
    ("BG-TTYT-LN", "Trung tâm Y tế huyện Lục Nam", "LN", "Lục Nam"),
    ("BG-TTYT-LG", "Trung tâm Y tế huyện Lạng Giang", "LG", "Lạng Giang"),
    ("BG-TTYT-TP", "Trung tâm Y tế thành phố Bắc Giang", "TP", "Bắc Giang"),
)

SYMPTOM_NOTES: Final = (
    "Sốt nhẹ từ tối qua",
    "Ho khan, đau họng",
    "Mệt mỏi, đau mỏi người",
    "Mất vị giác",
    None,
)
CONTACT_NOTES: Final = ("Tiếp xúc gần với F0 tại nơi ở", "Cùng ca làm việc với F0", "Người nhà là F0")
HIGH_RISK_REASONS: Final = (
    "Ở khu vực đang phong tỏa",
    "Làm việc cùng dây chuyền với ca F0",
    "Nhà trọ có ca F0",
    "Có triệu chứng nghi nhiễm",
)
