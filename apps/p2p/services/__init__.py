"""Procure-to-pay services: purchase orders, acknowledgments, shipments, receipts, invoices."""
