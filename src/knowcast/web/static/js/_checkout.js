// The checkout page (/checkout/{id}): the hold countdown, the coupon form that re-prices on change, and paying
// with the chosen method: a redirect (H5 / wap / page pay / sandbox / Stripe), a QR code polled until the
// order is paid (desktop WeChat Native), or WeixinJSBridge inside WeChat (JSAPI). Paid → the result page.
import { api } from "./_api.js";

const POLL_MS = 2000;

function clock(seconds) {
  const s = Math.max(0, seconds);
  return `${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
}

export function startCheckout(root) {
  const orderId = root.dataset.orderId;
  const t = JSON.parse(root.dataset.strings || "{}");
  const status = root.querySelector("[data-testid=qr-status]");
  const deadline = Date.now() + Number(root.dataset.secondsLeft || 0) * 1000;
  const toResult = () => window.location.assign(`/checkout/${orderId}`);

  const countdown = root.querySelector("[data-countdown]");
  if (countdown) {
    const tick = setInterval(() => {
      const left = Math.ceil((deadline - Date.now()) / 1000);
      countdown.textContent = clock(left);
      if (left <= 0) {
        clearInterval(tick);
        toResult(); // the page then says the order expired
      }
    }, 1000);
  }

  // choosing another coupon (or none) re-prices the order on the server; the page comes back with the new total
  const couponForm = root.querySelector("[data-coupon-form]");
  if (couponForm) {
    couponForm.addEventListener("change", (event) => {
      if (event.target.name === "coupon") {
        couponForm.querySelector("[name=code]").value = "";
        couponForm.requestSubmit();
      }
    });
  }

  let polling = false;
  async function poll() {
    if (polling) return;
    polling = true;
    for (;;) {
      try {
        const order = await api("GET", `/api/v1/orders/${orderId}`);
        if (order.state !== "pending") {
          toResult();
          return;
        }
      } catch {
        // a dropped request: ask again on the next turn
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  function showQr() {
    const box = root.querySelector("[data-testid=qr-box]");
    box.querySelector("img").src = `/checkout/${orderId}/qr.svg?t=${Date.now()}`;
    box.hidden = false;
    poll();
  }

  function bridgePay(params) {
    const invoke = () =>
      window.WeixinJSBridge.invoke("getBrandWCPayRequest", params, (res) => {
        if (res && res.err_msg === "get_brand_wcpay_request:ok") {
          status.textContent = t.paying;
          root.querySelector("[data-testid=qr-box]").hidden = false;
          poll();
        }
      });
    if (window.WeixinJSBridge) invoke();
    else if (root.dataset.device === "wechat") document.addEventListener("WeixinJSBridgeReady", invoke, { once: true });
    else throw new Error(t.not_in_wechat);
  }

  const payForm = root.querySelector("[data-pay-form]");
  if (payForm) {
    payForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = payForm.querySelector("[type=submit]");
      const picked = payForm.querySelector("input[name=method]:checked");
      button.disabled = true;
      try {
        const answer = await api("POST", `/api/v1/orders/${orderId}/checkout`, { method: picked ? picked.value : null });
        if (answer.jsapi) bridgePay(answer.jsapi);
        else if (answer.qr_code) showQr();
        else if (answer.checkout_url) window.location.assign(answer.checkout_url);
        else toResult();
      } catch (err) {
        const alert = document.createElement("div");
        alert.className = "alert";
        alert.setAttribute("role", "alert");
        alert.dataset.testid = "pay-error";
        alert.dataset.code = err.code || "";
        alert.textContent = err.message || t.error;
        payForm.prepend(alert);
      } finally {
        button.disabled = false;
      }
    });
    // back from WeChat's silent sign-in (snsapi_base): go on paying with the method chosen before, once
    const resume = new URLSearchParams(window.location.search).get("pay");
    if (resume) {
      const url = new URL(window.location.href);
      url.searchParams.delete("pay");
      window.history.replaceState(null, "", url);
      const choice = payForm.querySelector(`input[name=method][value="${CSS.escape(resume)}"]`);
      if (choice) {
        choice.checked = true;
        payForm.requestSubmit();
      }
    }
  }
}
