"""Selling in the room: shelf and pin, orders and reservations, payments, entitlements, coupons, flash sales,
lucky draws. See docs/commerce.md."""
