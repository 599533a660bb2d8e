"""The paper broker's book in the database (app label ``paper``): one ``PaperAccount`` per
paper trading account, its positions, deals and orders. These rows are the BROKER's records
(what a real broker's server would hold); NusaTrade's own Order/Position/Deal rows live in
``trading.models`` and are reconciled against them."""
