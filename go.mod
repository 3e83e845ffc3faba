module github.com/seqtask/seqtask

go 1.26.8
