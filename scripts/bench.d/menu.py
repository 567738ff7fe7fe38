"""Prints an outlet menu sync body: 5 menus over 500 products, 50 modifier groups of 4 modifiers each."""
import json

modifiers = {f"mod-{g}-{m}": {"plu": f"MOD-{g:02d}-{m}", "name": f"Option {g}.{m}", "price": 50 * m} for g in range(50) for m in range(4)}
groups = {f"grp-{g}": {"name": f"Group {g}", "min": 0, "max": 2, "subProducts": [f"mod-{g}-{m}" for m in range(4)]} for g in range(50)}
products = {f"p-{i}": {"plu": f"SKU-{i:04d}", "name": f"Product {i}", "price": 500 + i, "subProducts": [f"grp-{i % 50}"]} for i in range(500)}
menus = []
for n in range(5):
    ids = [f"p-{i}" for i in range(n * 100, n * 100 + 100)]
    menus.append({
        "menuId": f"menu-{n}", "menu": f"Menu {n}", "menuType": n % 4,
        "availabilities": [],
        "categories": [{"name": f"Category {n}.{c}", "products": ids[c * 10:(c + 1) * 10]} for c in range(10)],
        # Each menu carries the whole catalogue it references, as menu pushes do.
        "products": {pid: products[pid] for pid in ids},
        "modifierGroups": groups, "modifiers": modifiers, "snoozedProducts": {},
    })
print(json.dumps(menus))
