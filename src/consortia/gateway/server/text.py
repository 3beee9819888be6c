"""The platform's own words on the pages every application sends people to: the login page and error pages.

A consumer in Busan, a patient in Gangwon and a bank officer in Shenzhen all reach ``/login`` and the platform's
error pages from their application's pages, so these speak the applications' languages — English, Korean,
Simplified and Traditional Chinese — chosen as every application chooses (:func:`page_language`). The explorer's
own pages, a tool for operators across the consortium, stay in English.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from starlette.requests import Request

from consortia.ui.i18n import Catalogue, pick_language

LANGUAGE_COOKIE = "consortia_lang"
"""Remembers a visitor's explicit ``?lang=`` choice."""

CATALOGUE = Catalogue(
    {
        "en": {
            "skip": "Skip to content",
            "footer": "Consortia · times in UTC (Coordinated Universal Time), the ledger's clock",
            "login.title": "Log in",
            "login.hint": "Use your organisation and user name, for example",
            "login.user": "Organisation / user",
            "login.password": "Password",
            "login.submit": "Log in",
            "login.same_site": "This form must be sent from this site.",
            "login.missing": "Enter your organisation/user (e.g. Org1/alice) and your password.",
            "login.throttled": "Too many failed logins. Try again in {seconds} seconds.",
            "login.wrong": "Unknown user or wrong password.",
            "login.refused": (
                "This identity may not log in: its certificate was revoked, or its organisation is no longer a "
                "member. Ask your organisation's administrator."
            ),
            "error.401": "Log in to see this",
            "error.403": "Not yours to see",
            "error.404": "Not found",
            "error.429": "Too many requests",
            "error.other": "Something went wrong",
            "error.401.hint": "This page is for members of the consortium. Log in with your organisation's account.",
            "error.403.hint": "You are logged in, but you may not see this. Ask an administrator of your "
            "organisation if you need it.",
            "error.404.hint": "Check the address, or go back to the start page.",
            "error.log_in": "Log in",
            "error.start": "Start page",
        },
        "ko": {
            "skip": "본문으로 건너뛰기",
            "footer": "Consortia · 시각은 원장의 기준인 협정 세계시(UTC)",
            "login.title": "로그인",
            "login.hint": "기관과 사용자 이름을 입력하세요. 예:",
            "login.user": "기관 / 사용자",
            "login.password": "비밀번호",
            "login.submit": "로그인",
            "login.same_site": "이 양식은 이 사이트에서만 보낼 수 있습니다.",
            "login.missing": "기관/사용자(예: Org1/alice)와 비밀번호를 입력하세요.",
            "login.throttled": "로그인 실패가 너무 많습니다. {seconds}초 후에 다시 시도하세요.",
            "login.wrong": "사용자를 찾을 수 없거나 비밀번호가 틀렸습니다.",
            "login.refused": (
                "이 신원으로는 로그인할 수 없습니다. 인증서가 폐기되었거나 소속 기관이 더 이상 회원이 아닙니다. "
                "기관 관리자에게 문의하십시오."
            ),
            "error.401": "로그인이 필요합니다",
            "error.403": "볼 수 있는 권한이 없습니다",
            "error.404": "찾을 수 없습니다",
            "error.429": "요청이 너무 많습니다",
            "error.other": "문제가 생겼습니다",
            "error.401.hint": "컨소시엄 회원을 위한 페이지입니다. 소속 기관의 계정으로 로그인하세요.",
            "error.403.hint": "로그인되어 있지만 이 내용을 볼 수 없습니다. 필요하면 소속 기관의 관리자에게 문의하세요.",
            "error.404.hint": "주소를 확인하거나 첫 페이지로 돌아가세요.",
            "error.log_in": "로그인",
            "error.start": "첫 페이지",
        },
        "zh-Hans": {
            "skip": "跳到正文",
            "footer": "Consortia · 时间为协调世界时（UTC），即账本的时钟",
            "login.title": "登录",
            "login.hint": "请输入机构和用户名，例如",
            "login.user": "机构 / 用户",
            "login.password": "密码",
            "login.submit": "登录",
            "login.same_site": "此表单只能从本站提交。",
            "login.missing": "请输入机构/用户（例如 Org1/alice）和密码。",
            "login.throttled": "登录失败次数过多，请在{seconds}秒后重试。",
            "login.wrong": "用户不存在或密码错误。",
            "login.refused": "此身份不能登录：其证书已被吊销，或其机构已不再是成员。请联系本机构的管理员。",
            "error.401": "请先登录",
            "error.403": "无权查看",
            "error.404": "未找到",
            "error.429": "请求过多",
            "error.other": "出现问题",
            "error.401.hint": "此页面仅供联盟成员使用，请用所在机构的账户登录。",
            "error.403.hint": "您已登录，但无权查看此内容。如有需要，请联系所在机构的管理员。",
            "error.404.hint": "请检查地址，或返回首页。",
            "error.log_in": "登录",
            "error.start": "首页",
        },
        "zh-Hant": {
            "skip": "跳到正文",
            "footer": "Consortia · 時間為協調世界時（UTC），即賬本的時鐘",
            "login.title": "登入",
            "login.hint": "請輸入機構和用戶名稱，例如",
            "login.user": "機構 / 用戶",
            "login.password": "密碼",
            "login.submit": "登入",
            "login.same_site": "此表格只能從本站提交。",
            "login.missing": "請輸入機構/用戶（例如 Org1/alice）和密碼。",
            "login.throttled": "登入失敗次數過多，請在{seconds}秒後重試。",
            "login.wrong": "用戶不存在或密碼錯誤。",
            "login.refused": "此身分不能登入：其憑證已被撤銷，或其機構已不再是成員。請聯絡本機構的管理員。",
            "error.401": "請先登入",
            "error.403": "無權查看",
            "error.404": "找不到",
            "error.429": "請求過多",
            "error.other": "出現問題",
            "error.401.hint": "此頁面僅供聯盟成員使用，請用所屬機構的賬戶登入。",
            "error.403.hint": "您已登入，但無權查看此內容。如有需要，請聯絡所屬機構的管理員。",
            "error.404.hint": "請檢查地址，或返回首頁。",
            "error.log_in": "登入",
            "error.start": "首頁",
        },
    },
    default="en",
)


def page_language(request: Request) -> str:
    """The visitor's language: ``?lang=``, else the page they came to log in for, the cookie, or the browser."""
    query = request.query_params.get("lang")
    if not query:
        target = request.query_params.get("next", "")
        query = (parse_qs(urlsplit(target).query).get("lang") or [None])[0]
    return pick_language(
        query,
        request.cookies.get(LANGUAGE_COOKIE),
        request.headers.get("accept-language"),
        CATALOGUE.languages,
        CATALOGUE.default,
    )


def error_title(lang: str, status: int) -> str:
    """A person's heading for an HTTP status."""
    key = f"error.{status}" if status in (401, 403, 404, 429) else "error.other"
    return CATALOGUE.text(lang, key)
