"""The document's wording in English and Spanish (`Provider.locale`). Every locale defines every field."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Labels:
    # header
    title: str  # "Service order {number}"
    version_issued: str  # "Version {version} · issued {when} ({zone})"
    state: str
    tax_id: str
    states: dict[str, str]
    # parties
    parties: str
    client: str
    site: str
    site_address: str
    client_contact: str
    requester: str
    approved_by: str
    approved_by_value: str  # "{name}, {when}"
    not_approved: str
    field_workers: str
    none_assigned: str
    # schedule
    schedule: str
    requested_date: str
    scheduled_date: str
    not_scheduled: str
    priority: str
    priorities: dict[str, str]
    closed: str
    closed_value: str  # "{when} by {name}"
    outcome: str
    outcomes: dict[str, str]  # by step: complete, not_perform
    closing_notes: dict[str, str]  # by step: the label of the closing note
    # description
    description: str
    approval_notes: str
    # items
    items: str
    amounts_in: str  # "Amounts in {currency}"
    item_headings: tuple[str, str, str, str, str, str]
    groups: dict[str, str]  # by ItemLine.kind
    continued: str  # "{group} (continued)"
    no_items: str
    subtotal: str
    tax: str  # "Tax {rate}"
    total: str  # "Total {currency}"
    unpriced_note: tuple[str, str]  # one item, several: "{count}"
    full_descriptions: str
    # changes
    changes: str
    original: str
    no_item_changes: str
    added: str  # "Added {item}: {summary}"
    removed: str  # "Removed {item} (was {summary})"
    changed: str  # "Changed {item}: {steps}"
    line_summary: str  # "{quantity} × {price} = {total}"
    fields_changed: dict[str, str]  # description, quantity, unit, unit price, line total
    added_people: str
    note_from: str  # "Note from {author}: {note}"
    note: str  # a note without an author
    subtotal_change: str  # "Subtotal {before} → {after} ({delta})"
    closed_as: str  # "Closed as {outcome} by {name} on {when}."
    # history
    history: str
    history_headings: tuple[str, str, str, str, str]
    steps: dict[str, str]
    this_version: str
    # signatures
    signatures: str
    field_worker_signs: str
    client_signs: str
    sign_lines: tuple[str, str, str]  # name, signature, date
    # footer and metadata
    footer: str  # "{number} · version {version} · {page}"
    page: str  # "page {page} of {pages}"
    fingerprint: str  # "fingerprint {fingerprint}"


EN = Labels(
    title="Service order {number}",
    version_issued="Version {version} \u00b7 issued {when} ({zone})",
    state="State",
    tax_id="Tax ID",
    states={
        "pending_approval": "Pending approval",
        "approved": "Approved, work in progress",
        "rejected": "Rejected",
        "completed": "Completed",
        "not_performed": "Not performed",
    },
    parties="Parties",
    client="Client",
    site="Site",
    site_address="Site address",
    client_contact="Client contact",
    requester="Requested by",
    approved_by="Approved by",
    approved_by_value="{name}, {when}",
    not_approved="Not approved",
    field_workers="Field workers",
    none_assigned="None assigned",
    schedule="Schedule",
    requested_date="Requested for",
    scheduled_date="Scheduled for",
    not_scheduled="Not scheduled",
    priority="Priority",
    priorities={"low": "Low", "normal": "Normal", "high": "High", "urgent": "Urgent"},
    closed="Closed",
    closed_value="{when} by {name}",
    outcome="Outcome",
    outcomes={"complete": "Completed", "not_perform": "Not performed"},
    closing_notes={"complete": "Closing note", "not_perform": "Reason"},
    description="Description of the job",
    approval_notes="Approval notes",
    items="Line items",
    amounts_in="Amounts in {currency}",
    item_headings=("Code", "Description", "Qty", "Unit", "Unit price", "Line total"),
    groups={"service": "Services", "material": "Materials", "free": "Other items"},
    continued="{group} (continued)",
    no_items="No line items.",
    subtotal="Subtotal",
    tax="Tax {rate}",
    total="Total {currency}",
    unpriced_note=(
        "The total excludes 1 item not yet priced (shown as \u2014).",
        "The total excludes {count} items not yet priced (shown as \u2014).",
    ),
    full_descriptions="Full text of shortened item descriptions",
    changes="Changes in this version",
    original="Version 1 is the approved original.",
    no_item_changes="No changes to line items.",
    added="Added {item}: {summary}",
    removed="Removed {item} (was {summary})",
    changed="Changed {item}: {steps}",
    line_summary="{quantity} \u00d7 {price} = {total}",
    fields_changed={
        "description": "description",
        "quantity": "quantity",
        "unit": "unit",
        "unit_price": "unit price",
        "line_total": "line total",
    },
    added_people="Added people: {names}",
    note_from="Note from {author}: {note}",
    note="Note: {note}",
    subtotal_change="Subtotal {before} \u2192 {after} ({delta})",
    closed_as="Closed as {outcome} by {name} on {when}.",
    history="Version history",
    history_headings=("Version", "Issued", "By", "Step", "Fingerprint"),
    steps={
        "approve": "Approved (original)",
        "confirm": "Change confirmed",
        "complete": "Completed",
        "not_perform": "Not performed",
    },
    this_version="{version} (this)",
    signatures="Signatures",
    field_worker_signs="Field worker",
    client_signs="Client's representative",
    sign_lines=("Name", "Signature", "Date"),
    footer="{number} \u00b7 version {version} \u00b7 {page}",
    page="page {page} of {pages}",
    fingerprint="fingerprint {fingerprint}",
)

ES = Labels(
    title="Orden de servicio {number}",
    version_issued="Versión {version} \u00b7 emitida el {when} ({zone})",
    state="Estado",
    tax_id="ID fiscal",
    states={
        "pending_approval": "Pendiente de aprobación",
        "approved": "Aprobada, trabajo en curso",
        "rejected": "Rechazada",
        "completed": "Completada",
        "not_performed": "No realizada",
    },
    parties="Partes",
    client="Cliente",
    site="Sitio",
    site_address="Dirección",
    client_contact="Contacto",
    requester="Solicitada por",
    approved_by="Aprobada por",
    approved_by_value="{name}, {when}",
    not_approved="Sin aprobar",
    field_workers="Técnicos",
    none_assigned="Sin asignar",
    schedule="Programación",
    requested_date="Fecha solicitada",
    scheduled_date="Fecha programada",
    not_scheduled="Sin programar",
    priority="Prioridad",
    priorities={"low": "Baja", "normal": "Normal", "high": "Alta", "urgent": "Urgente"},
    closed="Cerrada",
    closed_value="{when} por {name}",
    outcome="Resultado",
    outcomes={"complete": "Completada", "not_perform": "No realizada"},
    closing_notes={"complete": "Nota de cierre", "not_perform": "Motivo"},
    description="Descripción del trabajo",
    approval_notes="Notas de aprobación",
    items="Ítems",
    amounts_in="Montos en {currency}",
    item_headings=("Código", "Descripción", "Cant.", "Unidad", "Precio unit.", "Total línea"),
    groups={"service": "Servicios", "material": "Materiales", "free": "Otros ítems"},
    continued="{group} (continuación)",
    no_items="Sin ítems.",
    subtotal="Subtotal",
    tax="Impuesto {rate}",
    total="Total {currency}",
    unpriced_note=(
        "El total no incluye 1 ítem aún sin precio (indicado con \u2014).",
        "El total no incluye {count} ítems aún sin precio (indicados con \u2014).",
    ),
    full_descriptions="Texto completo de las descripciones abreviadas",
    changes="Cambios en esta versión",
    original="La versión 1 es la original aprobada.",
    no_item_changes="Sin cambios en los ítems.",
    added="Se agregó {item}: {summary}",
    removed="Se quitó {item} (era {summary})",
    changed="Se cambió {item}: {steps}",
    line_summary="{quantity} \u00d7 {price} = {total}",
    fields_changed={
        "description": "descripción",
        "quantity": "cantidad",
        "unit": "unidad",
        "unit_price": "precio unitario",
        "line_total": "total línea",
    },
    added_people="Personas agregadas: {names}",
    note_from="Nota de {author}: {note}",
    note="Nota: {note}",
    subtotal_change="Subtotal {before} \u2192 {after} ({delta})",
    closed_as="Cerrada como {outcome} por {name} el {when}.",
    history="Historial de versiones",
    history_headings=("Versión", "Emitida", "Por", "Paso", "Huella"),
    steps={
        "approve": "Aprobada (original)",
        "confirm": "Cambio confirmado",
        "complete": "Completada",
        "not_perform": "No realizada",
    },
    this_version="{version} (esta)",
    signatures="Firmas",
    field_worker_signs="Técnico",
    client_signs="Representante del cliente",
    sign_lines=("Nombre", "Firma", "Fecha"),
    footer="{number} \u00b7 versión {version} \u00b7 {page}",
    page="página {page} de {pages}",
    fingerprint="huella {fingerprint}",
)

LABELS = {"en": EN, "es": ES}


def labels_for(locale: str) -> Labels:
    return LABELS.get(locale, EN)
