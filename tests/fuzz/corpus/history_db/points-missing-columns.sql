DROP TABLE points; CREATE TABLE points (id INTEGER PRIMARY KEY, case_key TEXT, host TEXT);
INSERT INTO points VALUES(1,'k','h');
