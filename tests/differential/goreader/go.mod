module portcullis.test/goreader

go 1.19
